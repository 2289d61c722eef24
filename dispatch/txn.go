package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// txn collects one operation's changes as copies of the entities it
// touches. Nothing in the engine changes until the store has accepted the
// batch; then install swaps the copies in. Installed entities are never
// modified in place, so readers may share them.
type txn struct {
	e           *Engine
	now         time.Time
	workers     map[string]*wstate
	incidents   map[string]*Incident
	assignments map[string]*Assignment
	order       []recordKey // records in first-touch order, for a stable batch
	events      []Event
	claims      []Claim
	releases    []string
	batchDue    time.Time // the engine's batchDue after this txn
	recent      []time.Time
}

type recordKey struct {
	kind RecordKind
	id   string
}

func (e *Engine) begin() *txn {
	return &txn{
		e: e, now: e.now(), batchDue: e.batchDue, recent: e.recent,
		workers: make(map[string]*wstate), incidents: make(map[string]*Incident),
		assignments: make(map[string]*Assignment),
	}
}

// worker returns the current view of a worker (the txn's copy if edited).
func (tx *txn) worker(id string) *wstate {
	if w := tx.workers[id]; w != nil {
		return w
	}
	return tx.e.workers[id]
}

// editWorker returns the txn's own copy of a worker, creating it from the
// installed one (nil if unknown).
func (tx *txn) editWorker(id string) *wstate {
	if w := tx.workers[id]; w != nil {
		return w
	}
	old := tx.e.workers[id]
	if old == nil {
		return nil
	}
	w := *old
	w.Skills = slices.Clone(old.Skills)
	w.Languages = slices.Clone(old.Languages)
	w.DutyLog = slices.Clone(old.DutyLog)
	w.Deployments = slices.Clone(old.Deployments)
	tx.addWorker(&w)
	return &w
}

// addWorker registers a new or copied worker with the txn.
func (tx *txn) addWorker(w *wstate) {
	tx.workers[w.ID] = w
	tx.order = append(tx.order, recordKey{KindWorker, w.ID})
}

// touchPosition writes w's position record with the txn.
func (tx *txn) touchPosition(id string) {
	tx.order = append(tx.order, recordKey{KindPosition, id})
}

func (tx *txn) incident(id string) *Incident {
	if inc := tx.incidents[id]; inc != nil {
		return inc
	}
	return tx.e.incidents[id]
}

func (tx *txn) editIncident(id string) *Incident {
	if inc := tx.incidents[id]; inc != nil {
		return inc
	}
	old := tx.e.incidents[id]
	if old == nil {
		return nil
	}
	inc := cloneIncident(old)
	tx.addIncident(inc)
	return inc
}

func (tx *txn) addIncident(inc *Incident) {
	tx.incidents[inc.ID] = inc
	tx.order = append(tx.order, recordKey{KindIncident, inc.ID})
}

func (tx *txn) assignment(id string) *Assignment {
	if a := tx.assignments[id]; a != nil {
		return a
	}
	return tx.e.assignments[id]
}

func (tx *txn) editAssignment(id string) *Assignment {
	if a := tx.assignments[id]; a != nil {
		return a
	}
	old := tx.e.assignments[id]
	if old == nil {
		return nil
	}
	a := cloneAssignment(old)
	tx.addAssignment(a)
	return a
}

func (tx *txn) addAssignment(a *Assignment) {
	tx.assignments[a.ID] = a
	tx.order = append(tx.order, recordKey{KindAssignment, a.ID})
}

// emit appends an event whose Data is v as JSON.
func (tx *txn) emit(ev Event, v any) {
	if v != nil {
		b, err := json.Marshal(v)
		if err != nil {
			// Only engine-built values are marshalled; failing here is a bug.
			panic(fmt.Sprintf("dispatch: marshal %s event: %v", ev.Type, err))
		}
		ev.Data = b
	}
	ev.Time = tx.now
	tx.events = append(tx.events, ev)
}

func (tx *txn) claim(workerID, assignmentID string) {
	tx.claims = append(tx.claims, Claim{WorkerID: workerID, AssignmentID: assignmentID})
}

func (tx *txn) release(workerID string) {
	tx.releases = append(tx.releases, workerID)
}

// batch turns the txn into the store's Batch.
func (tx *txn) batch() (Batch, error) {
	b := Batch{Events: tx.events, Claims: tx.claims, Releases: tx.releases}
	for _, k := range tx.order {
		var v any
		switch k.kind {
		case KindWorker:
			w := tx.workers[k.id].Worker
			w.Position, w.PositionAt = nil, time.Time{} // kept in KindPosition
			v = w
		case KindIncident:
			v = tx.incidents[k.id]
		case KindAssignment:
			v = tx.assignments[k.id]
		case KindPosition:
			w := tx.workers[k.id]
			v = positionRecord{Lat: w.pos.Lat, Lng: w.pos.Lng, At: w.posAt}
		}
		raw, err := json.Marshal(v)
		if err != nil {
			return Batch{}, fmt.Errorf("marshal %s %s: %w", k.kind, k.id, err)
		}
		b.Records = append(b.Records, Record{Kind: k.kind, ID: k.id, Value: raw})
	}
	return b, nil
}

// write runs op under the engine's lock: fn validates and records changes
// in a txn; if it returns nil the batch is committed and installed. write
// returns after the store reports the batch durable.
func (e *Engine) write(ctx context.Context, op string, fn func(tx *txn) error) error {
	wait, err := e.commitLocked(ctx, op, fn)
	if err != nil {
		return err
	}
	return e.awaitDurable(ctx, op, wait)
}

func (e *Engine) commitLocked(ctx context.Context, op string, fn func(tx *txn) error) (func(context.Context) error, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for attempt := 1; ; attempt++ {
		wait, refs, err := e.tryCommitLocked(ctx, op, fn)
		if refs == nil || attempt == maxAttempts {
			return wait, err
		}
		// Another node changed what this operation read: reread and run
		// it again on the fresh state.
		if rerr := e.refreshLocked(ctx, refs); rerr != nil {
			return nil, fmt.Errorf("%s: %w", op, rerr)
		}
		if rerr := e.catchUpLocked(ctx); rerr != nil {
			e.log.Debug("catch up with the log", "op", op, "err", rerr)
		}
	}
}

// tryCommitLocked runs fn once and commits its batch. On a shared store,
// when the outcome may differ on fresher state, it also returns the
// records to reread before trying again.
func (e *Engine) tryCommitLocked(ctx context.Context, op string, fn func(tx *txn) error) (func(context.Context) error, []RecordRef, error) {
	if e.broken != nil {
		return nil, nil, fmt.Errorf("%s: %w: %v", op, ErrUnavailable, e.broken)
	}
	tx := e.begin()
	if err := fn(tx); err != nil {
		if ref, ok := missingRef(err); ok && e.shared != nil {
			return nil, []RecordRef{ref}, fmt.Errorf("%s: %w", op, err)
		}
		return nil, nil, fmt.Errorf("%s: %w", op, err)
	}
	if len(tx.events) == 0 && len(tx.order) == 0 {
		// Nothing stored changed; the batch window, kept in memory only,
		// may have (a window whose slots all went elsewhere closes).
		e.batchDue, e.recent = tx.batchDue, tx.recent
		return nil, nil, nil
	}
	b, err := tx.batch()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", op, err)
	}
	if e.shared != nil {
		b.Expect = tx.expects()
	}
	c, err := e.store.Commit(ctx, b)
	if err != nil {
		var refs []RecordRef
		if e.shared != nil && raced(err) {
			refs = tx.refs()
		}
		if raced(err) {
			return nil, refs, fmt.Errorf("%s: %w: %w", op, ErrConflict, err)
		}
		// On a shared store an unavailable store may still have applied
		// the batch: nothing is installed, and the feed will bring it.
		return nil, nil, fmt.Errorf("%s: %w", op, err)
	}
	e.install(tx)
	e.noteCommitLocked(b, c)
	e.lastWait = c.Wait
	e.signal()
	return c.Wait, nil, nil
}

// awaitDurable waits for a commit. A failure other than the caller giving
// up means memory is ahead of the store: the engine stops taking writes.
func (e *Engine) awaitDurable(ctx context.Context, op string, wait func(context.Context) error) error {
	if wait == nil {
		return nil
	}
	err := wait(ctx)
	if err == nil {
		return nil
	}
	if ctx.Err() == nil {
		e.mu.Lock()
		if e.broken == nil {
			e.broken = err
			e.log.Error("store failed to make a change durable; refusing writes", "op", op, "err", err)
		}
		e.mu.Unlock()
		return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
	}
	return fmt.Errorf("%s: wait for durability: %w", op, err)
}

// install swaps the txn's copies into the engine and the index.
func (e *Engine) install(tx *txn) {
	for _, w := range tx.workers {
		e.putWorker(w)
		e.indexWorker(w)
	}
	for _, a := range tx.assignments {
		if _, known := e.assignments[a.ID]; !known {
			e.byWorker[a.WorkerID] = append(e.byWorker[a.WorkerID], a.ID)
			e.byIncident[a.IncidentID] = append(e.byIncident[a.IncidentID], a.ID)
		}
		e.assignments[a.ID] = a
		if a.State == StateOffered {
			e.offers[a.ID] = a.ExpiresAt
			if e.shared != nil {
				e.mine[a.ID] = struct{}{}
			}
		} else {
			delete(e.offers, a.ID)
			delete(e.mine, a.ID)
		}
	}
	for _, inc := range tx.incidents {
		e.incidents[inc.ID] = inc
		e.trackWaiting(inc)
	}
	e.batchDue, e.recent = tx.batchDue, tx.recent
}

// trackWaiting keeps the set of slots that Tick must look at in step with
// an incident.
func (e *Engine) trackWaiting(inc *Incident) {
	for i := range inc.Slots {
		ref := slotRef{inc.ID, i}
		s := &inc.Slots[i]
		if !inc.Status.ended() && (s.Queued || !s.RetryAt.IsZero()) {
			e.waiting[ref] = struct{}{}
		} else {
			delete(e.waiting, ref)
			delete(e.retryLater, ref)
		}
	}
}

func cloneIncident(old *Incident) *Incident {
	inc := *old
	inc.Needs = slices.Clone(old.Needs)
	inc.Slots = slices.Clone(old.Slots)
	for i := range inc.Slots {
		inc.Slots[i].Tried = slices.Clone(old.Slots[i].Tried)
	}
	return &inc
}

func cloneAssignment(old *Assignment) *Assignment {
	a := *old
	a.Explanation.RunnersUp = slices.Clone(old.Explanation.RunnersUp)
	a.Explanation.Violations = slices.Clone(old.Explanation.Violations)
	return &a
}
