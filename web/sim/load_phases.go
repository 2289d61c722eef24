package sim

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/sync/errgroup"
)

// connect opens streams a bounded number at a time, then keeps each one
// read (and resumed) on its own goroutine in streams.
func (r *loadRun) connect(ctx context.Context, streams *errgroup.Group, conns []*streamConn) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(loadConnectParallel)
	for _, c := range conns {
		g.Go(func() error { return c.connect(gctx) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, c := range conns {
		streams.Go(func() error { return c.run(ctx) })
	}
	return nil
}

// run measures and drives with every stream read on its own goroutine,
// then stops them all.
func (r *loadRun) run(ctx context.Context) error {
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	streams, sgctx := errgroup.WithContext(sctx)
	err := r.measureAndDrive(sgctx, streams)
	stop()
	if serr := streams.Wait(); serr != nil && err == nil {
		err = serr
	}
	return err
}

// measureAndDrive puts the roster on duty before anyone connects (ten
// thousand duty events fanned out to every desk would bury the run and
// the memory figure), reads the server's memory, connects every worker
// and desk, reads the memory again with every connection idle, then
// drives.
func (r *loadRun) measureAndDrive(ctx context.Context, streams *errgroup.Group) error {
	if err := r.onDuty(ctx); err != nil {
		return err
	}
	every := max(r.o.Settle/3, 50*time.Millisecond)
	if err := sleepCtx(ctx, r.o.Settle); err != nil {
		return err
	}
	before, err := r.admin.settledMemory(ctx, 3, every)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := r.connect(ctx, streams, r.workerStreams()); err != nil {
		return fmt.Errorf("connect workers: %w", err)
	}
	if err := r.connect(ctx, streams, r.deskStreams()); err != nil {
		return fmt.Errorf("connect desks: %w", err)
	}
	r.report.ConnectTime = time.Since(start)
	r.o.Logger.Info("connected", "streams", len(r.desks)+len(r.workers), "in", r.report.ConnectTime.Round(time.Millisecond))
	if err := sleepCtx(ctx, r.o.Settle); err != nil {
		return err
	}
	after, err := r.admin.settledMemory(ctx, 3, every)
	if err != nil {
		return err
	}
	r.report.setMemory(before, after)
	return r.drive(ctx)
}

func (r *loadRun) workerStreams() []*streamConn {
	out := make([]*streamConn, len(r.workers))
	for i, w := range r.workers {
		out[i] = w.stream
	}
	return out
}

func (r *loadRun) deskStreams() []*streamConn {
	out := make([]*streamConn, len(r.desks))
	for i, d := range r.desks {
		out[i] = d.stream
	}
	return out
}

func (r *loadRun) drive(ctx context.Context) error {
	before, berr := r.admin.scrapeMemory(ctx)
	tool, start := ownCPU(), time.Now()
	defer func() {
		after, aerr := r.admin.scrapeMemory(ctx)
		if berr == nil && aerr == nil {
			r.report.setCPU(after.CPU-before.CPU, ownCPU()-tool, time.Since(start))
		}
	}()
	dctx, cancel := context.WithTimeout(ctx, r.o.Duration)
	defer cancel()
	g, gctx := errgroup.WithContext(dctx)
	g.Go(func() error { return r.intake(gctx) })
	if r.o.Positions > 0 {
		g.Go(func() error { return r.positions(gctx) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return r.drain(ctx)
}

// onDuty puts every worker on duty through the API, as a desk may on a
// worker's behalf (PUT /api/v1/workers/{id}/duty), a bounded number at a
// time.
func (r *loadRun) onDuty(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(loadIntakeParallel)
	for _, w := range r.workers {
		g.Go(func() error {
			path := routeWorkers + "/" + url.PathEscape(w.id) + "/duty"
			if err := r.admin.do(gctx, http.MethodPut, path, map[string]bool{"on_duty": true}, nil); err != nil {
				return fmt.Errorf("on duty: %w", err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	r.o.Logger.Info("workers on duty", "workers", len(r.workers))
	return nil
}

// drain waits (boundedly) until every incident was offered and every
// acceptance reached every desk, lets the last assignments finish, then
// waits until every desk has every event up to the server's head, so the
// counts compare like with like.
func (r *loadRun) drain(ctx context.Context) error {
	deadline := time.Now().Add(20 * time.Second)
	for !r.rec.settled() && time.Now().Before(deadline) {
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
	if err := sleepCtx(ctx, 300*time.Millisecond); err != nil {
		return err
	}
	head, err := r.engineSeq(ctx)
	if err != nil {
		return err
	}
	for !r.desksAt(head) && time.Now().Before(deadline.Add(10*time.Second)) {
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
	r.report.endSeq = head
	return sleepCtx(ctx, 500*time.Millisecond) // workers' streams run beside the desks'
}

// engineSeq is the engine's last committed sequence, which the streams
// must reach: a worker's view carries it (/readyz has the stream hub's
// head, which lags the engine when the hub is the bottleneck).
func (r *loadRun) engineSeq(ctx context.Context) (uint64, error) {
	v, err := r.admin.workerView(ctx, r.workers[0].id)
	if err != nil {
		return 0, fmt.Errorf("engine sequence: %w", err)
	}
	return v.LastSeq, nil
}

func (r *loadRun) desksAt(seq uint64) bool {
	for _, d := range r.desks {
		if d.stream.stats.Last.Load() < seq {
			return false
		}
	}
	return true
}
