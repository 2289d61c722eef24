package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/jjj-social-work/dispatch/geo"
)

// positionCommitTimeout bounds one group commit of positions. The group
// is committed for many callers, so no one caller's context may end it.
const positionCommitTimeout = 10 * time.Second

// posGroup is group commit for position updates: updates that arrive
// while one commit is in flight wait and then go to the store together,
// as one batch. Under load that is one store round trip (one Redis
// script) for many workers; alone, an update commits at once.
type posGroup struct {
	mu      sync.Mutex
	queue   []*posReq
	leading bool // some caller is committing; the rest queue
}

type posReq struct {
	id   string
	p    geo.Point
	now  time.Time
	done chan posResult // buffered: the leader never blocks on it
}

type posResult struct {
	wait func(context.Context) error
	err  error
	lead bool // commit the queue now: the previous leader is done
}

// UpdatePosition records a worker's position. It is the hot path (every
// worker every 30 s), so it writes one small position record and event,
// moves the worker in the index without copying the worker, and shares
// the store commit with concurrent updates.
func (e *Engine) UpdatePosition(ctx context.Context, workerID string, p geo.Point) error {
	const op = "update position"
	if err := p.Validate(); err != nil {
		return fmt.Errorf("%s: %w", op, pointErr("position", err))
	}
	r := &posReq{id: workerID, p: p, now: e.now(), done: make(chan posResult, 1)}
	g := &e.pos
	g.mu.Lock()
	g.queue = append(g.queue, r)
	lead := !g.leading
	g.leading = true
	g.mu.Unlock()
	var res posResult
	if !lead {
		res = <-r.done
		lead = res.lead
	}
	if lead {
		res = e.leadPositions(ctx, r)
	}
	if res.err != nil {
		return fmt.Errorf("%s: %w", op, res.err)
	}
	return e.awaitDurable(ctx, op, res.wait)
}

// leadPositions commits the queue (mine among it) as one batch, answers
// the other callers, and hands the lead to the first of those that queued
// meanwhile, if any.
func (e *Engine) leadPositions(ctx context.Context, mine *posReq) posResult {
	g := &e.pos
	g.mu.Lock()
	reqs := g.queue
	g.queue = nil
	g.mu.Unlock()

	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), positionCommitTimeout)
	results := e.commitPositions(cctx, reqs)
	cancel()
	var out posResult
	for i, r := range reqs {
		if r == mine {
			out = results[i]
		} else {
			r.done <- results[i]
		}
	}
	g.mu.Lock()
	if len(g.queue) > 0 {
		g.queue[0].done <- posResult{lead: true}
	} else {
		g.leading = false
	}
	g.mu.Unlock()
	return out
}

// commitPositions commits the updates of known workers in one batch and
// applies them; each update gets its own result.
func (e *Engine) commitPositions(ctx context.Context, reqs []*posReq) []posResult {
	res := make([]posResult, len(reqs))
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.broken != nil {
		for i := range res {
			res[i].err = fmt.Errorf("%w: %v", ErrUnavailable, e.broken)
		}
		return res
	}
	e.refreshUnknownLocked(ctx, reqs)
	var (
		b    Batch
		took []int // indexes of reqs in b
	)
	for i, r := range reqs {
		w := e.workers[r.id]
		if w == nil {
			res[i].err = notFound("worker_id", "worker", r.id)
			continue
		}
		rec, err := json.Marshal(positionRecord{Lat: r.p.Lat, Lng: r.p.Lng, At: r.now})
		if err != nil {
			res[i].err = err
			continue
		}
		data, err := json.Marshal(PositionEvent{Position: r.p})
		if err != nil {
			res[i].err = err
			continue
		}
		b.Events = append(b.Events, Event{Type: EventWorkerPosition, Time: r.now, Region: w.HomeRegion, WorkerID: r.id, Data: data})
		b.Records = append(b.Records, Record{Kind: KindPosition, ID: r.id, Value: rec})
		took = append(took, i)
	}
	if len(took) == 0 {
		return res
	}
	c, err := e.store.Commit(ctx, b)
	if err != nil {
		for _, i := range took {
			res[i].err = err
		}
		return res
	}
	for _, i := range took {
		r := reqs[i]
		// In place under the write lock: every reader copies under the
		// read lock, and a value field shares nothing.
		w := e.workers[r.id]
		first := !w.hasPos
		w.pos, w.posAt, w.hasPos = r.p, r.now, true
		if first {
			e.indexWorker(w)
		} else if _, err := e.index.Move(w.gid, r.p); err != nil {
			e.log.Error("index move", "worker", r.id, "err", err)
		}
		res[i].wait = c.Wait
	}
	e.noteCommitLocked(b, c)
	e.lastWait = c.Wait
	return res
}

// refreshUnknownLocked rereads workers this node does not know yet: on a
// shared store another node may have added them moments ago.
func (e *Engine) refreshUnknownLocked(ctx context.Context, reqs []*posReq) {
	if e.shared == nil {
		return
	}
	var refs []RecordRef
	for _, r := range reqs {
		if e.workers[r.id] == nil {
			refs = append(refs, RecordRef{KindWorker, r.id}, RecordRef{KindPosition, r.id})
		}
	}
	if len(refs) > 0 {
		if err := e.refreshLocked(ctx, refs); err != nil {
			e.log.Warn("reread unknown workers", "err", err)
		}
	}
}
