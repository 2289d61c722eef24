package dispatch

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"
)

// Tick processes everything due at the clock's now: expired offers move to
// the next candidate, a closed batch window is solved jointly, and slots
// without candidates are searched again. Each item commits on its own, so
// one failure does not hold up the rest; Tick returns the first error.
// Tests drive time with it; Run calls it from real timers.
func (e *Engine) Tick(ctx context.Context) error {
	now := e.now()
	expired, batch, retries := e.due(now)
	var errs []error
	for _, id := range expired {
		errs = append(errs, e.write(ctx, "expire offer", func(tx *txn) error { return tx.expire(id) }))
	}
	if batch {
		errs = append(errs, e.write(ctx, "solve batch", func(tx *txn) error {
			if !tx.batchDue.IsZero() && !tx.now.Before(tx.batchDue) {
				tx.solveBatch()
			}
			return nil
		}))
	}
	for _, ref := range retries {
		if err := e.write(ctx, "retry slot", func(tx *txn) error { return tx.retry(ref) }); !errors.Is(err, errNothingNew) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// due lists what is due at now, in a fixed order.
func (e *Engine) due(now time.Time) (expired []string, batch bool, retries []slotRef) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	for id := range e.offers {
		if !now.Before(e.expiryDue(id)) {
			expired = append(expired, id)
		}
	}
	slices.SortFunc(expired, func(a, b string) int {
		return cmp.Or(e.offers[a].Compare(e.offers[b]), cmp.Compare(a, b))
	})
	for ref := range e.waiting {
		s := e.incidents[ref.incident].Slots[ref.slot]
		if !s.Queued && !s.RetryAt.IsZero() && !now.Before(e.retryAt(ref, s)) {
			retries = append(retries, ref)
		}
	}
	slices.SortFunc(retries, func(a, b slotRef) int {
		return cmp.Or(cmp.Compare(a.incident, b.incident), cmp.Compare(a.slot, b.slot))
	})
	return expired, !e.batchDue.IsZero() && !now.Before(e.batchDue), retries
}

// expire ends an offer nobody answered in time, if it is still due.
func (tx *txn) expire(id string) error {
	cur := tx.assignment(id)
	if cur == nil || cur.State != StateOffered || tx.now.Before(cur.ExpiresAt) {
		return nil // answered or changed since due() looked
	}
	a := tx.editAssignment(id)
	inc := tx.editIncident(a.IncidentID)
	tx.endAssignment(a, StateExpired, "no answer in time")
	tx.missed(inc, a.Slot, a.WorkerID)
	tx.restatus(inc)
	return nil
}

// retry searches again for a slot that had no candidate.
func (tx *txn) retry(ref slotRef) error {
	cur := tx.incident(ref.incident)
	if cur == nil || cur.Status.ended() {
		return nil
	}
	s := cur.Slots[ref.slot]
	if s.Queued || s.RetryAt.IsZero() || tx.now.Before(s.RetryAt) || !tx.slotOpen(cur, ref.slot) {
		return nil
	}
	inc := tx.editIncident(ref.incident)
	inc.Slots[ref.slot].RetryAt = time.Time{}
	tx.refill(inc, ref.slot)
	if s := inc.Slots[ref.slot]; tx.e.shared != nil && len(tx.events) == 0 && !s.Queued {
		// Nobody again: nothing to tell. Every node searches on its own
		// timer; storing each next time would have the nodes rewrite the
		// incident, unseen by the others, every interval.
		tx.e.retryLater[ref] = s.RetryAt
		return errNothingNew
	}
	return nil
}

// foreignExpiryGrace is how long after its expiry a node waits before it
// expires an offer another node made. That node normally does it on time,
// and the others then need not race it; if it died, they step in.
const foreignExpiryGrace = 2 * time.Second

// expiryDue is when this node expires offer id.
func (e *Engine) expiryDue(id string) time.Time {
	at := e.offers[id]
	if _, mine := e.mine[id]; e.shared != nil && !mine {
		at = at.Add(foreignExpiryGrace)
	}
	return at
}

// errNothingNew ends a write that found nothing worth storing.
var errNothingNew = errors.New("nothing new")

// retryAt is when slot ref (s) is searched again: the stored time, or
// later if this node already searched in vain.
func (e *Engine) retryAt(ref slotRef, s Slot) time.Time {
	if l := e.retryLater[ref]; l.After(s.RetryAt) {
		return l
	}
	return s.RetryAt
}

// nextDue is the earliest time something becomes due; zero if nothing is
// scheduled.
func (e *Engine) nextDue() time.Time {
	e.mu.RLock()
	defer e.mu.RUnlock()
	next := e.batchDue
	earlier := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	for id := range e.offers {
		earlier(e.expiryDue(id))
	}
	for ref := range e.waiting {
		if s := e.incidents[ref.incident].Slots[ref.slot]; !s.Queued && !s.RetryAt.IsZero() {
			earlier(e.retryAt(ref, s))
		}
	}
	return next
}

// idleWait is how long Run sleeps when nothing is scheduled; a write that
// schedules something wakes it earlier.
const idleWait = time.Minute

// Run drives Tick from real timers until ctx ends; it then returns nil.
// It returns an error only if the engine has stopped taking writes. On a
// SharedStore it also follows the store's feed, applying other nodes'
// changes, for as long as it runs.
func (e *Engine) Run(ctx context.Context) error {
	if e.shared != nil {
		fctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			e.follow(fctx)
		}()
		defer func() {
			cancel()
			<-done
		}()
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-e.wake:
		case <-timer.C:
			if err := e.Tick(ctx); err != nil {
				if errors.Is(err, ErrUnavailable) && e.isBroken() {
					return err
				}
				if ctx.Err() == nil {
					e.log.Warn("tick", "err", err)
				}
			}
		}
		wait := idleWait
		if next := e.nextDue(); !next.IsZero() {
			wait = max(0, next.Sub(e.now()))
		}
		timer.Reset(wait)
	}
}

// isBroken reports whether the engine refuses writes until restarted. A
// shared store that is only unreachable for a while does not break it.
func (e *Engine) isBroken() bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.broken != nil
}
