package web

import (
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Drop reasons: why a stream connection ended. Counted so an operator can
// tell slow phones from shutdowns from bad clients.
const (
	dropSlowConsumer = "slow_consumer"
	dropReadLimit    = "frame_too_large"
	dropPongTimeout  = "read_error"
	dropWriteError   = "write_error"
	dropShutdown     = "shutdown"
	dropCredential   = "credential_invalid"
	dropClientClosed = "client_closed"
	dropLogTruncated = "catch_up_failed"
)

// Metrics are the server's Prometheus metrics, on their own registry (never
// the global one, so two servers in one test process don't collide).
type Metrics struct {
	reg *prometheus.Registry

	connections    *prometheus.GaugeVec
	eventsStreamed prometheus.Counter
	eventsFollowed prometheus.Counter
	matchLatency   prometheus.Histogram
	offers         *prometheus.CounterVec
	drops          *prometheus.CounterVec
	resets         prometheus.Counter
	requests       *prometheus.CounterVec
}

func newMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		connections: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dispatch_stream_connections", Help: "Open stream connections by role.",
		}, []string{"role"}),
		eventsStreamed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dispatch_stream_events_sent_total", Help: "Event frames written to stream clients (catch-up and live).",
		}),
		eventsFollowed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dispatch_events_total", Help: "Events read from the store's change feed.",
		}),
		matchLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "dispatch_match_latency_seconds",
			Help:    "Time from incident intake to its first offers.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		offers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dispatch_offers_total", Help: "Assignment events by outcome (offered, accepted, declined, expired, ...).",
		}, []string{"outcome"}),
		drops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dispatch_stream_disconnects_total", Help: "Stream connections ended, by reason.",
		}, []string{"reason"}),
		resets: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dispatch_stream_resets_total", Help: "Resumes refused because the log no longer reaches back.",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dispatch_http_requests_total", Help: "HTTP requests by route and status class.",
		}, []string{"route", "class"}),
	}
	m.reg.MustRegister(m.connections, m.eventsStreamed, m.eventsFollowed, m.matchLatency,
		m.offers, m.drops, m.resets, m.requests,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, r := range []Role{RoleAdmin, RoleCoordinator, RoleWorker} {
		m.connections.WithLabelValues(string(r))
	}
	return m
}

// Registry is the registry /metrics serves; the engine may register its own
// collectors here.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ObserveMatch records one intake-to-offer latency. The engine calls it
// (through a hook wired in cmd) when it has made the first offers.
func (m *Metrics) ObserveMatch(d time.Duration) { m.matchLatency.Observe(d.Seconds()) }

// observeEvent counts assignment outcomes from the event types the hub sees
// ("assignment.offered" → offered), so the engine needs no metrics code.
func (m *Metrics) observeEvent(typ string) {
	m.eventsFollowed.Inc()
	if outcome, ok := strings.CutPrefix(typ, "assignment."); ok && outcome != "" && len(outcome) <= 32 {
		m.offers.WithLabelValues(outcome).Inc()
	}
}
