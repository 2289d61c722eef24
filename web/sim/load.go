package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Bounds of a load run: it shares the machine with the server it
// measures, and must end by itself.
const (
	MaxLoadWorkers      = 50_000
	MaxLoadCoordinators = 5_000
	MaxLoadRate         = 2_000
	MaxLoadDuration     = 10 * time.Minute
	loadConnectParallel = 64
	loadIntakeParallel  = 64
)

// LoadOptions configure a load run.
type LoadOptions struct {
	// BaseURL must be a loopback address (LoopbackURL).
	BaseURL string
	// AdminToken loads the roster and reads /metrics.
	AdminToken string
	// Issuer issues the workers' and desks' credentials.
	Issuer       Issuer
	Workers      int
	Coordinators int
	// Rate is incidents per second, for Duration.
	Rate     float64
	Duration time.Duration
	// Positions, if set, has every worker share its position this often
	// during the drive (PRODUCT §7 asks for every 30 s).
	Positions time.Duration
	// Settle is how long idle connections sit before memory is read
	// (three samples, a third of it apart, before and after); default 3 s.
	Settle time.Duration
	Seed   uint64
	Logger *slog.Logger
}

// Validate checks the run's bounds.
func (o *LoadOptions) Validate() error {
	switch {
	case o.Workers < 1 || o.Workers > MaxLoadWorkers:
		return fmt.Errorf("workers: want 1 to %d", MaxLoadWorkers)
	case o.Coordinators < 1 || o.Coordinators > MaxLoadCoordinators:
		return fmt.Errorf("coordinators: want 1 to %d", MaxLoadCoordinators)
	case !(o.Rate > 0 && o.Rate <= MaxLoadRate):
		return fmt.Errorf("rate: want more than 0 and at most %d incidents/s", MaxLoadRate)
	case o.Duration <= 0 || o.Duration > MaxLoadDuration:
		return fmt.Errorf("duration: want more than 0 and at most %v", MaxLoadDuration)
	case o.Positions < 0:
		return errors.New("positions: must not be negative")
	}
	return nil
}

func (o *LoadOptions) check() error {
	if err := o.Validate(); err != nil {
		return err
	}
	if o.Issuer == nil || o.AdminToken == "" {
		return errors.New("an admin token and an issuer are required")
	}
	if o.Settle <= 0 {
		o.Settle = 3 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// errorCounts counts the error replies workers got, by code.
type errorCounts struct {
	mu sync.Mutex
	m  map[string]int64
}

func (e *errorCounts) add(code string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = map[string]int64{}
	}
	e.m[code]++
}

func (e *errorCounts) snapshot() (total int64, byCode map[string]int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	byCode = make(map[string]int64, len(e.m))
	for k, v := range e.m {
		byCode[k] = v
		total += v
	}
	return total, byCode
}

// loadRun is one run's state.
type loadRun struct {
	o          LoadOptions
	hc         *http.Client
	admin      *apiClient
	dialer     *websocket.Dialer // workers': small buffers, they get few events
	deskDialer *websocket.Dialer // desks': larger reads, they get every event
	rec        *recorder
	workers    []*loadWorker
	desks      []*loadDesk
	errs       errorCounts
	report     LoadReport
}

// RunLoad connects the workers and desks, measures the server's memory
// per idle connection, drives incidents at the rate for the duration and
// reports latencies and stream integrity. It refuses non-loopback targets
// and stops by itself.
func RunLoad(ctx context.Context, o LoadOptions) (*LoadReport, error) {
	base, err := LoopbackURL(o.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	o.BaseURL = base
	if err := o.check(); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	r := newLoadRun(o)
	if err := r.prepare(ctx); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if err := r.run(ctx); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	r.finish()
	return &r.report, nil
}

// PrepareLoadCredentials issues (or finds still valid) the credentials a
// load run of this size and seed will use, without contacting the server:
// issuing ten thousand one by one takes minutes, better done once ahead.
func PrepareLoadCredentials(ctx context.Context, o LoadOptions) (int, error) {
	if err := o.Validate(); err != nil {
		return 0, fmt.Errorf("prepare credentials: %w", err)
	}
	if o.Issuer == nil {
		return 0, errors.New("prepare credentials: an issuer is required")
	}
	reqs := loadTokenRequests(loadTeam(o.Workers, o.Seed), o.Coordinators)
	if _, err := o.Issuer.Issue(ctx, reqs); err != nil {
		return 0, fmt.Errorf("prepare credentials: %w", err)
	}
	return len(reqs), nil
}

func newLoadRun(o LoadOptions) *loadRun {
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		Proxy: nil, MaxIdleConnsPerHost: loadIntakeParallel * 2, MaxConnsPerHost: loadIntakeParallel * 2}}
	return &loadRun{o: o, hc: hc, admin: newAPIClient(o.BaseURL, o.AdminToken, hc), rec: newRecorder(o.Coordinators),
		dialer: &websocket.Dialer{HandshakeTimeout: 30 * time.Second, ReadBufferSize: 1024, WriteBufferSize: 512,
			WriteBufferPool: newWritePool()},
		deskDialer: &websocket.Dialer{HandshakeTimeout: 30 * time.Second, ReadBufferSize: 64 << 10, WriteBufferSize: 512,
			WriteBufferPool: newWritePool()},
		report: LoadReport{Target: o.BaseURL, Workers: o.Workers, Coordinators: o.Coordinators,
			Rate: o.Rate, Duration: o.Duration}}
}

// prepare loads the roster, issues credentials and builds the clients.
func (r *loadRun) prepare(ctx context.Context) error {
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := r.admin.waitReady(wctx); err != nil {
		return err
	}
	if err := r.waitCredential(ctx, r.o.AdminToken); err != nil {
		return err
	}
	r.report.BatchWindow = r.batchWindow(ctx)
	team := loadTeam(r.o.Workers, r.o.Seed)
	if err := r.admin.upsertWorkers(ctx, team); err != nil {
		return err
	}
	r.o.Logger.Info("roster loaded", "workers", len(team))
	toks, err := r.o.Issuer.Issue(ctx, loadTokenRequests(team, r.o.Coordinators))
	if err != nil {
		return err
	}
	if err := r.waitCredential(ctx, toks[len(toks)-1]); err != nil {
		return err
	}
	r.build(team, toks)
	return nil
}

// waitCredential waits until the server accepts a freshly issued
// credential: it re-reads its credentials file about once a second.
func (r *loadRun) waitCredential(ctx context.Context, tok string) error {
	c := newAPIClient(r.o.BaseURL, tok, r.hc)
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := c.do(ctx, http.MethodGet, routeMe, nil, nil)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("wait for credentials: %w", err)
		}
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
