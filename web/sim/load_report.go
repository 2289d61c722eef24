package sim

import (
	"fmt"
	"io"
	"time"
)

// LoadReport is what a load run measured.
type LoadReport struct {
	Target       string        `json:"target"`
	Workers      int           `json:"workers"`
	Coordinators int           `json:"coordinators"`
	Rate         float64       `json:"rate_per_s"`
	Duration     time.Duration `json:"duration"`
	ConnectTime  time.Duration `json:"connect_time"`
	// BatchWindow is the server's joint-batching policy, which delays
	// offers during a surge.
	BatchWindow string `json:"batch_window"`

	IncidentsSent int `json:"incidents_sent"`
	IntakeErrors  int `json:"intake_errors"`
	// Behind counts incidents the tool could not send on time.
	Behind int `json:"behind"`
	Offers int `json:"offers"`
	// Unoffered counts incidents whose offer never reached a worker.
	Unoffered int `json:"unoffered"`

	// IntakeToOffer runs from sending the incident to its offer arriving
	// at the worker's socket; AcceptToAll from the worker sending its
	// acceptance to the event arriving at the last of all coordinators.
	IntakeToOffer Percentiles `json:"intake_to_offer"`
	AcceptToAll   Percentiles `json:"accept_to_all_coordinators"`
	// IntakeRequest is the intake request's own round trip (the server
	// answers once the incident and its first offers are durable).
	IntakeRequest Percentiles `json:"intake_request"`
	// AcceptsUnseen counts acceptances some coordinator never received.
	AcceptsUnseen int `json:"accepts_unseen"`

	// Server memory (process RSS and Go heap in use) before and after
	// connecting the idle clients, and the difference per connection.
	RSSBefore, RSSAfter   float64 `json:"-"`
	HeapBefore, HeapAfter float64 `json:"-"`
	RSSPerConn            float64 `json:"rss_bytes_per_connection"`
	HeapPerConn           float64 `json:"heap_bytes_per_connection"`
	StackPerConn          float64 `json:"stack_bytes_per_connection"`

	// ServerCores and ToolCores are the CPU each used while driving and
	// draining, in cores (CPU seconds per second): on a shared machine they
	// say which side ran out.
	ServerCores float64 `json:"server_cores"`
	ToolCores   float64 `json:"tool_cores"`

	Events uint64 `json:"events_received"`
	// Lost counts events a stream skipped: gaps in a coordinator's
	// sequence, and events about a worker that the reference coordinator
	// got but the worker's stream passed over. Lost and Duplicated must be
	// zero. Late counts events not delivered yet when the run ended (a
	// coordinator short of the server's head, a worker short of its last
	// event): an overloaded server, not a broken stream.
	Lost       uint64 `json:"lost"`
	Late       uint64 `json:"late"`
	Duplicated uint64 `json:"duplicated"`
	Resets     uint64 `json:"resets"`
	Reconnects uint64 `json:"reconnects"`
	// Retries are worker messages resent after the server rate-limited
	// them.
	Retries      uint64 `json:"retries"`
	WorkerErrors int64  `json:"worker_errors"`
	// WorkerErrorCodes are the error replies' codes (e.g. a step the
	// server refused as an invalid transition).
	WorkerErrorCodes map[string]int64 `json:"worker_error_codes,omitempty"`
	// EventTypes counts what one coordinator received, by event type.
	EventTypes map[string]uint64 `json:"event_types"`

	endSeq uint64
}

func (rep *LoadReport) setMemory(before, after memSample) {
	n := float64(rep.Workers + rep.Coordinators)
	rep.RSSBefore, rep.RSSAfter, rep.HeapBefore, rep.HeapAfter = before.RSS, after.RSS, before.Heap, after.Heap
	rep.RSSPerConn = (after.RSS - before.RSS) / n
	rep.HeapPerConn = (after.Heap - before.Heap) / n
	rep.StackPerConn = (after.Stack - before.Stack) / n
}

func (rep *LoadReport) setCPU(server float64, tool, wall time.Duration) {
	if wall <= 0 {
		return
	}
	rep.ServerCores = server / wall.Seconds()
	rep.ToolCores = tool.Seconds() / wall.Seconds()
}

// finish totals the streams' counts once they have all stopped.
func (r *loadRun) finish() {
	rep := &r.report
	rep.IntakeToOffer = percentiles(r.rec.toOffer)
	rep.AcceptToAll = percentiles(r.rec.acceptToAll.d)
	rep.IntakeRequest = percentiles(r.rec.intakeReq.d)
	rep.Offers, rep.Unoffered = r.rec.offers, len(r.rec.intakeAt)
	rep.IntakeErrors, rep.AcceptsUnseen = r.rec.intakeErrors, r.rec.unfinished()
	rep.WorkerErrors, rep.WorkerErrorCodes = r.errs.snapshot()
	for _, d := range r.desks {
		rep.addStream(&d.stream.stats)
		if last := d.stream.stats.Last.Load(); last < rep.endSeq {
			rep.Late += rep.endSeq - last
		}
	}
	ref := r.desks[0]
	rep.EventTypes = ref.types
	end := min(rep.endSeq, ref.stream.stats.Last.Load())
	for i, w := range r.workers {
		rep.addStream(&w.stream.stats)
		lost, late := missing(ref.refSeqs[i], w.seqs, w.start, end, w.stream.stats.Last.Load())
		rep.Lost += lost
		rep.Late += late
	}
}

func (rep *LoadReport) addStream(s *streamStats) {
	rep.Events += s.Events.Load()
	rep.Lost += s.Gaps.Load()
	rep.Duplicated += s.Duplicates.Load()
	rep.Resets += s.Resets.Load()
	rep.Reconnects += s.Reconnects.Load()
	rep.Retries += s.Retries.Load()
}

// Print writes the report for people.
func (rep *LoadReport) Print(w io.Writer) {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
	pct := func(p Percentiles) string {
		return fmt.Sprintf("n=%d  p50 %s  p90 %s  p99 %s  max %s", p.Count, ms(p.P50), ms(p.P90), ms(p.P99), ms(p.Max))
	}
	kib := func(b float64) string { return fmt.Sprintf("%.1f KiB", b/1024) }
	mib := func(b float64) string { return fmt.Sprintf("%.0f MiB", b/(1<<20)) }
	fmt.Fprintf(w, "target %s: %d workers, %d coordinators, %.0f incidents/s for %v\n",
		rep.Target, rep.Workers, rep.Coordinators, rep.Rate, rep.Duration)
	fmt.Fprintf(w, "connected %d streams in %v; server joint batching: %s\n",
		rep.Workers+rep.Coordinators, rep.ConnectTime.Round(time.Millisecond), rep.BatchWindow)
	fmt.Fprintf(w, "server memory per idle connection: RSS %s (%s → %s); Go heap %s (%s → %s) + goroutine stacks %s\n",
		kib(rep.RSSPerConn), mib(rep.RSSBefore), mib(rep.RSSAfter), kib(rep.HeapPerConn), mib(rep.HeapBefore), mib(rep.HeapAfter),
		kib(rep.StackPerConn))
	fmt.Fprintf(w, "incidents: %d sent, %d failed, %d behind schedule; %d offers, %d incidents never offered\n",
		rep.IncidentsSent, rep.IntakeErrors, rep.Behind, rep.Offers, rep.Unoffered)
	fmt.Fprintf(w, "intake → offer at the worker:        %s\n", pct(rep.IntakeToOffer))
	fmt.Fprintf(w, "intake request round trip:          %s\n", pct(rep.IntakeRequest))
	fmt.Fprintf(w, "acceptance → all %d coordinators: %s (%d never reached all)\n",
		rep.Coordinators, pct(rep.AcceptToAll), rep.AcceptsUnseen)
	fmt.Fprintf(w, "CPU while driving: server %.2f cores, this tool %.2f cores\n", rep.ServerCores, rep.ToolCores)
	fmt.Fprintf(w, "one coordinator's events by type: %v\n", rep.EventTypes)
	fmt.Fprintf(w, "events received %d: lost %d, duplicated %d, late %d, resets %d, reconnects %d; worker messages rate-limited and resent %d, refused %d\n",
		rep.Events, rep.Lost, rep.Duplicated, rep.Late, rep.Resets, rep.Reconnects, rep.Retries, rep.WorkerErrors)
	if len(rep.WorkerErrorCodes) > 0 {
		fmt.Fprintf(w, "worker error replies by code: %v\n", rep.WorkerErrorCodes)
	}
}
