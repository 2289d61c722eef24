package sim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/jjj-social-work/dispatch/web"
	"golang.org/x/sync/errgroup"
)

// Options configure a simulation run.
type Options struct {
	// BaseURL is the server, e.g. http://127.0.0.1:8080.
	BaseURL string
	// AdminToken is an administrator credential: it loads the roster.
	AdminToken string
	Scenario   *Scenario
	// Issuer issues the simulated clients' credentials (required: the
	// server's API has no route for it).
	Issuer Issuer
	// Speed overrides the scenario's speed when positive.
	Speed float64
	// Logger receives the run's logs; nil discards them.
	Logger *slog.Logger
	// HTTPClient is used for API calls; nil means a client for this run.
	HTTPClient *http.Client
}

// Sim is a running simulation.
type Sim struct {
	workers []*simWorker
	desks   []*simDesk
	stats   counters
	g       *errgroup.Group
}

const connectParallel = 16

// Start loads the roster, issues credentials, connects every desk and
// worker, and starts them and the incident schedule. It returns once all
// streams are live; the simulation runs until ctx ends (Wait).
func Start(ctx context.Context, o Options) (*Sim, error) {
	if o.Scenario == nil || o.Issuer == nil || o.BaseURL == "" || o.AdminToken == "" {
		return nil, errors.New("start simulation: BaseURL, AdminToken, Scenario and Issuer are required")
	}
	o = o.withDefaults()
	sc := o.Scenario
	admin := newAPIClient(o.BaseURL, o.AdminToken, o.HTTPClient)
	if err := admin.waitReady(ctx); err != nil {
		return nil, fmt.Errorf("start simulation: %w", err)
	}
	team := GenerateTeam(sc)
	roster := make([]dispatch.WorkerInput, len(team))
	for i, m := range team {
		roster[i] = m.Worker
	}
	if err := admin.upsertWorkers(ctx, roster); err != nil {
		return nil, fmt.Errorf("start simulation: %w", err)
	}
	toks, err := o.Issuer.Issue(ctx, tokenRequests(sc, team))
	if err != nil {
		return nil, fmt.Errorf("start simulation: %w", err)
	}
	s := &Sim{}
	env := o.newEnv(&s.stats)
	s.desks = env.desks(sc, toks[:len(sc.Coordinators)])
	s.workers = env.workers(sc, team, toks[len(sc.Coordinators):])
	if err := s.connect(ctx); err != nil {
		return nil, fmt.Errorf("start simulation: %w", err)
	}
	s.launch(ctx, o, env)
	o.Logger.Info("simulation started", "scenario", sc.Name, "workers", len(team),
		"desks", len(s.desks), "speed", float64(env.speed))
	return s, nil
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: 64, Proxy: nil}}
	}
	if o.Speed <= 0 {
		o.Speed = o.Scenario.Speed
	}
	return o
}

func tokenRequests(sc *Scenario, team []Member) []TokenRequest {
	reqs := make([]TokenRequest, 0, len(sc.Coordinators)+len(team))
	for _, c := range sc.Coordinators {
		reqs = append(reqs, TokenRequest{Name: c.Name, Role: web.RoleCoordinator, Regions: c.Regions})
	}
	for _, m := range team {
		reqs = append(reqs, TokenRequest{Name: m.Worker.Name, Role: web.RoleWorker, WorkerID: m.Worker.ID})
	}
	return reqs
}

// env is what every simulated client shares.
type env struct {
	o      Options
	stats  *counters
	book   *book
	speed  scale
	dialer *websocket.Dialer
	ids    string // message id prefix of this run
}

// runPrefix starts the message ids of one run: the server remembers its
// answers by (worker, id), so a new run must not reuse an old run's ids.
func runPrefix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:]) + "-"
}

func (o Options) newEnv(c *counters) *env {
	return &env{o: o, stats: c, book: newBook(), speed: scale(o.Speed), ids: runPrefix(),
		dialer: &websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 1024,
			WriteBufferSize: 1024, WriteBufferPool: &sync.Pool{}}}
}

func (e *env) desks(sc *Scenario, toks []string) []*simDesk {
	watch := loggerFor(sc.Coordinators, "")
	out := make([]*simDesk, len(sc.Coordinators))
	for i, spec := range sc.Coordinators {
		d := &simDesk{index: i, spec: spec, api: newAPIClient(e.o.BaseURL, toks[i], e.o.HTTPClient),
			watch: i == max(watch, 0), book: e.book, stats: e.stats}
		d.stream = newStreamConn(streamConfig{api: d.api, ticket: true, contiguous: len(spec.Regions) == 0,
			dialer: e.dialer, log: e.o.Logger.With("desk", i), onEvent: d.onEvent})
		out[i] = d
	}
	return out
}

func (e *env) workers(sc *Scenario, team []Member, toks []string) []*simWorker {
	out := make([]*simWorker, len(team))
	for i, m := range team {
		w := &simWorker{m: m, b: sc.Behaviour, onOdds: sc.Team.OnDuty, speed: e.speed,
			api: newAPIClient(e.o.BaseURL, toks[i], e.o.HTTPClient), stats: e.stats,
			ids: &msgIDs{prefix: e.ids}, log: e.o.Logger.With("worker", m.Worker.ID),
			events: make(chan *dispatch.Event, 32), quit: make(chan struct{}),
			rng: newRand(sc.Seed, streamWorker+uint64(m.Index))}
		w.stream = newStreamConn(streamConfig{api: w.api, ticket: true, dialer: e.dialer, log: w.log,
			onEvent: w.onEvent})
		out[i] = w
	}
	return out
}

// connect opens every desk's stream first (so they see everything), then
// the workers', a few at a time.
func (s *Sim) connect(ctx context.Context) error {
	for _, d := range s.desks {
		if err := d.stream.connect(ctx); err != nil {
			return fmt.Errorf("desk %q: %w", d.spec.Name, err)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(connectParallel)
	for _, w := range s.workers {
		g.Go(func() error {
			if err := w.stream.connect(gctx); err != nil {
				return fmt.Errorf("worker %s: %w", w.m.Worker.ID, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// launch starts every goroutine of the run; each ends with ctx.
func (s *Sim) launch(ctx context.Context, o Options, e *env) {
	g, gctx := errgroup.WithContext(ctx)
	for _, d := range s.desks {
		g.Go(func() error { return d.stream.run(gctx) })
	}
	for _, w := range s.workers {
		g.Go(func() error { return w.stream.run(gctx) })
		g.Go(func() error { return w.run(gctx) })
	}
	sch := &scheduler{plan: Schedule(o.Scenario), specs: o.Scenario.Coordinators, desks: s.desks,
		speed: e.speed, book: e.book, stats: e.stats, log: o.Logger}
	g.Go(func() error { return sch.run(gctx) })
	if o.Scenario.Incidents.CloseWhenDone {
		cl := &closer{desks: s.desks, book: e.book, stats: e.stats, log: o.Logger}
		g.Go(func() error { return cl.run(gctx) })
	}
	s.g = g
}

// Wait blocks until the simulation has stopped (its context ended) and
// returns the first error that stopped it.
func (s *Sim) Wait() error { return s.g.Wait() }

// Stats returns the totals so far.
func (s *Sim) Stats() Stats {
	st := s.stats.snapshot()
	st.Workers, st.Coordinators = len(s.workers), len(s.desks)
	for _, d := range s.desks {
		st.addStream(&d.stream.stats)
	}
	for _, w := range s.workers {
		st.addStream(&w.stream.stats)
	}
	return st
}
