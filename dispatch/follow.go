package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// followRetry bounds the pause before the feed starts again after a
// failure; the store's own Follow already rides out short outages.
const (
	followRetryMin = 50 * time.Millisecond
	followRetryMax = 2 * time.Second
)

// follow applies the shared store's feed until ctx ends: the other nodes'
// events, in seq order, by rereading the records they name. If the log no
// longer reaches back to this node's position (trimmed, or the store lost
// writes), it reloads every record and follows on from there.
func (e *Engine) follow(ctx context.Context) {
	e.mu.Lock()
	e.following, e.own, e.lastSeq = true, make(map[uint64]struct{}), e.fed
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.following, e.own = false, nil
		e.mu.Unlock()
	}()
	pause := followRetryMin
	for ctx.Err() == nil {
		e.mu.RLock()
		from := e.fed
		e.mu.RUnlock()
		fctx, stop := context.WithCancel(ctx)
		var applyErr error
		err := e.store.Follow(fctx, from, func(evs []Event) {
			if applyErr != nil {
				return
			}
			if applyErr = e.applyFeed(fctx, evs); applyErr != nil {
				stop() // start again from the last event applied
			}
		})
		stop()
		if ctx.Err() != nil {
			return
		}
		switch {
		case applyErr != nil:
			e.log.Warn("feed: apply", "after_seq", from, "err", applyErr)
		case errors.Is(err, ErrLogTruncated):
			e.log.Warn("feed: log no longer reaches this node; reloading", "after_seq", from, "err", err)
			if err := e.reload(ctx); err != nil {
				e.log.Error("feed: reload", "err", err)
			} else {
				pause = followRetryMin
				continue
			}
		default:
			e.log.Warn("feed", "after_seq", from, "err", err)
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		pause = min(2*pause, followRetryMax)
	}
}

// applyFeed applies one delivery of the feed. Events this node committed
// are already in memory; positions come from the event; everything else
// is reread, so that memory holds exactly what the store holds.
func (e *Engine) applyFeed(ctx context.Context, evs []Event) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.applyEventsLocked(ctx, evs)
}

// catchUpLocked applies what the log holds beyond the feed's position now,
// ahead of the feed (which then skips it). A write that lost a race runs
// again on state as fresh as the store's, instead of losing again to
// every change still on its way through the feed.
func (e *Engine) catchUpLocked(ctx context.Context) error {
	if !e.following {
		return nil
	}
	for range catchUpPages {
		evs, err := e.store.EventsAfter(ctx, e.fed, catchUpPage)
		if err != nil || len(evs) == 0 {
			return err
		}
		if err := e.applyEventsLocked(ctx, evs); err != nil {
			return err
		}
	}
	return nil
}

// catchUpPage and catchUpPages bound one catch-up; the feed does the rest.
const (
	catchUpPage  = 1000
	catchUpPages = 4
)

func (e *Engine) applyEventsLocked(ctx context.Context, evs []Event) error {
	var workers, positions, others []RecordRef
	seen := make(map[RecordRef]bool)
	add := func(list *[]RecordRef, k RecordKind, id string) {
		r := RecordRef{k, id}
		if id != "" && !seen[r] {
			seen[r] = true
			*list = append(*list, r)
		}
	}
	for _, ev := range evs {
		if ev.Seq <= e.fed {
			continue
		}
		if _, mine := e.own[ev.Seq]; mine {
			delete(e.own, ev.Seq)
			continue
		}
		if ev.Type == EventWorkerPosition {
			var p PositionEvent
			if err := json.Unmarshal(ev.Data, &p); err == nil {
				e.movePosition(ev.WorkerID, p.Position, ev.Time.UTC(), ev.Seq)
			}
			continue
		}
		add(&workers, KindWorker, ev.WorkerID)
		if ev.Type == EventWorkerUpserted {
			add(&positions, KindPosition, ev.WorkerID)
		}
		add(&others, KindIncident, ev.IncidentID)
		add(&others, KindAssignment, ev.AssignmentID)
		if ev.Type == EventSurgeSolved {
			var j JointBatchEvent
			if err := json.Unmarshal(ev.Data, &j); err == nil {
				for _, id := range j.Incidents {
					add(&others, KindIncident, id)
				}
			}
		}
	}
	refs := append(append(workers, positions...), others...)
	if len(refs) > 0 {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := e.refreshLocked(rctx, refs)
		cancel()
		if err != nil {
			return err
		}
	}
	if n := len(evs); n > 0 && evs[n-1].Seq > e.fed {
		e.fed = evs[n-1].Seq
		e.lastSeq = e.fed
	}
	return nil
}

// reload rebuilds memory from the store, as at start, when the feed
// cannot go on from where it is.
func (e *Engine) reload(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.resetMemory()
	if err := e.load(ctx); err != nil {
		return err
	}
	e.own = make(map[uint64]struct{})
	e.signal()
	return nil
}
