package dispatch

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jjj-social-work/dispatch/geo"
)

// Several nodes on one SharedStore.
//
// Each node keeps its own memory and index. A write is conditional on
// every record it changes still holding what this node last saw
// (Batch.Expect, by content hash); when another node got there first the
// store refuses with ErrStale (or ErrClaimed), the node rereads those
// records and runs the operation again on the fresh state. That one rule
// guards every invariant that lives in a record: a slot is filled once
// (the incident record), an offer is answered or expired once (the
// assignment record), a worker is booked once (the worker record and its
// claim). Offer expiry needs no owner: every node's timer tries, the first
// commit wins, the others find the offer already moved on.
//
// The feed (follow.go) applies the other nodes' events by rereading the
// records they name. Position updates, the hot path, are applied from the
// event itself and are never conditional: the last position wins.

// maxAttempts bounds how often one operation is run again after losing a
// race with another node.
const maxAttempts = 10

// recordSum hashes a record's stored bytes as Expect wants them.
func recordSum(v []byte) [sha1.Size]byte { return sha1.Sum(v) }

// versioned reports whether writes of this kind are conditional.
func versioned(k RecordKind) bool { return k != KindPosition }

// noteSum remembers the hash of a record as read or written.
func (e *Engine) noteSum(r Record) {
	if e.shared == nil || !versioned(r.Kind) {
		return
	}
	k := recordKey{r.Kind, r.ID}
	if len(r.Value) == 0 {
		delete(e.sums, k)
		return
	}
	e.sums[k] = recordSum(r.Value)
}

// refs lists the versioned records the txn writes, once each.
func (tx *txn) refs() []RecordRef {
	seen := make(map[recordKey]bool, len(tx.order))
	out := make([]RecordRef, 0, len(tx.order))
	for _, k := range tx.order {
		if versioned(k.kind) && !seen[k] {
			seen[k] = true
			out = append(out, RecordRef{Kind: k.kind, ID: k.id})
		}
	}
	return out
}

// expects makes the txn's batch conditional on what this node last saw of
// each record it writes; a record it never saw must not exist.
func (tx *txn) expects() []Expect {
	refs := tx.refs()
	out := make([]Expect, len(refs))
	for i, r := range refs {
		out[i].RecordRef = r
		if sum, ok := tx.e.sums[recordKey{r.Kind, r.ID}]; ok {
			out[i].SHA1 = hex.EncodeToString(sum[:])
		}
	}
	return out
}

// raced reports whether a commit lost a race with another node: worth
// rereading and running again.
func raced(err error) bool { return errors.Is(err, ErrStale) || errors.Is(err, ErrClaimed) }

// missingRef names the record behind a not-found error, if any: on a
// shared store this node's memory may just lag behind another node's write.
func missingRef(err error) (RecordRef, bool) {
	var fe *FieldError
	if !errors.As(err, &fe) || fe.missing.ID == "" {
		return RecordRef{}, false
	}
	return fe.missing, true
}

// refreshLocked rereads records from the store and installs them, then
// whatever they point to that memory lacks: a record read now may be
// newer than the events that named it, and refer to an assignment, an
// incident or a worker this node has not seen yet. Records the store does
// not have are left as they are.
func (e *Engine) refreshLocked(ctx context.Context, refs []RecordRef) error {
	for round := 0; len(refs) > 0 && round < maxRefreshRounds; round++ {
		recs, err := e.shared.Records(ctx, refs)
		if err != nil {
			return fmt.Errorf("reread records: %w", err)
		}
		refs = nil
		for _, r := range recs {
			if err := e.applyRecordLocked(r); err != nil {
				e.log.Error("apply record", "kind", r.Kind, "id", r.ID, "err", err)
				continue
			}
			refs = append(refs, e.danglingLocked(r.Kind, r.ID)...)
		}
	}
	if len(refs) > 0 {
		return fmt.Errorf("reread records: still missing %d referenced records", len(refs))
	}
	return nil
}

// maxRefreshRounds bounds how far refreshLocked chases references; each
// round reads everything missing so far in one round trip.
const maxRefreshRounds = 8

// danglingLocked lists what an installed record points to and memory
// lacks.
func (e *Engine) danglingLocked(k RecordKind, id string) []RecordRef {
	var out []RecordRef
	worker := func(wid string) {
		if wid != "" && e.workers[wid] == nil {
			out = append(out, RecordRef{KindWorker, wid}, RecordRef{KindPosition, wid})
		}
	}
	assignment := func(aid string) {
		if aid != "" && e.assignments[aid] == nil {
			out = append(out, RecordRef{KindAssignment, aid})
		}
	}
	switch k {
	case KindWorker:
		if w := e.workers[id]; w != nil {
			assignment(w.Active)
		}
	case KindIncident:
		if inc := e.incidents[id]; inc != nil {
			for _, s := range inc.Slots {
				assignment(s.Assignment)
			}
		}
	case KindAssignment:
		if a := e.assignments[id]; a != nil {
			if e.incidents[a.IncidentID] == nil {
				out = append(out, RecordRef{KindIncident, a.IncidentID})
			}
			worker(a.WorkerID)
		}
	}
	return out
}

// completeLoadLocked rereads what loaded records point to and the load
// missed: records change while a shared store is read kind by kind.
func (e *Engine) completeLoadLocked(ctx context.Context) error {
	var refs []RecordRef
	for id := range e.workers {
		refs = append(refs, e.danglingLocked(KindWorker, id)...)
	}
	for id := range e.incidents {
		refs = append(refs, e.danglingLocked(KindIncident, id)...)
	}
	for id := range e.assignments {
		refs = append(refs, e.danglingLocked(KindAssignment, id)...)
	}
	return e.refreshLocked(ctx, refs)
}

// applyRecordLocked installs one record as the store holds it. Installed
// values are replaced, never changed, except a worker's position fields,
// which commitPosition also changes in place under the write lock.
func (e *Engine) applyRecordLocked(r Record) error {
	switch r.Kind {
	case KindWorker:
		var w Worker
		if err := json.Unmarshal(r.Value, &w); err != nil {
			return err
		}
		ns := &wstate{Worker: w}
		if old := e.workers[w.ID]; old != nil {
			ns.pos, ns.posAt, ns.hasPos, ns.posSeq = old.pos, old.posAt, old.hasPos, old.posSeq
		}
		e.putWorker(ns)
		e.indexWorker(ns)
	case KindPosition:
		var p positionRecord
		if err := json.Unmarshal(r.Value, &p); err != nil {
			return err
		}
		e.movePosition(r.ID, geo.Point{Lat: p.Lat, Lng: p.Lng}, p.At, 0)
	case KindIncident:
		var inc Incident
		if err := json.Unmarshal(r.Value, &inc); err != nil {
			return err
		}
		if e.incidents[inc.ID] == nil {
			e.noteForeignCreation(inc.CreatedAt)
		}
		e.incidents[inc.ID] = &inc
		e.trackWaiting(&inc)
		e.adoptQueued(&inc)
	case KindAssignment:
		var a Assignment
		if err := json.Unmarshal(r.Value, &a); err != nil {
			return err
		}
		if _, known := e.assignments[a.ID]; !known {
			e.byWorker[a.WorkerID] = append(e.byWorker[a.WorkerID], a.ID)
			e.byIncident[a.IncidentID] = append(e.byIncident[a.IncidentID], a.ID)
		}
		e.assignments[a.ID] = &a
		if a.State == StateOffered {
			e.offers[a.ID] = a.ExpiresAt
		} else {
			delete(e.offers, a.ID)
			delete(e.mine, a.ID)
		}
	default:
		return nil
	}
	e.noteSum(r)
	e.signal()
	return nil
}

// movePosition sets a known worker's position from the event with seq, or
// from the stored record if seq is 0. Commit order decides, not the
// times: the store keeps the last committed position, and so must memory.
func (e *Engine) movePosition(id string, p geo.Point, at time.Time, seq uint64) {
	w := e.workers[id]
	if w == nil || (seq != 0 && seq <= w.posSeq) {
		return
	}
	w.pos, w.posAt, w.hasPos = p, at, true
	w.posSeq = max(w.posSeq, seq)
	e.indexWorker(w)
}

// noteForeignCreation counts another node's incident toward this node's
// surge detection, so that a burst spread over the nodes is one burst.
func (e *Engine) noteForeignCreation(at time.Time) {
	if e.pol.Batch.MinIncidents > 0 && at.After(e.now().Add(-e.pol.Batch.Window.D())) {
		e.recent = append(e.recent, at)
	}
}

// adoptQueued opens a joint batch for slots another node queued: if that
// node dies before its window closes, this one solves them. Nodes that
// solve the same slots race like any other write, and one wins.
func (e *Engine) adoptQueued(inc *Incident) {
	if !e.batchDue.IsZero() || inc.Status.ended() {
		return
	}
	for _, s := range inc.Slots {
		if s.Queued {
			e.batchDue = e.now().Add(e.pol.Batch.Window.D())
			return
		}
	}
}

// noteCommitLocked records what this node just committed: the hashes of
// the records it wrote, its seqs for the feed to skip, and the last seq.
func (e *Engine) noteCommitLocked(b Batch, c Committed) {
	n := len(c.Events)
	for _, r := range b.Records {
		e.noteSum(r)
		if w := e.workers[r.ID]; r.Kind == KindPosition && w != nil && n > 0 {
			// The batch's seqs are all this node's: no other node's
			// position event falls between them.
			w.posSeq = max(w.posSeq, c.Events[n-1].Seq)
		}
	}
	if n == 0 {
		return
	}
	if !e.following {
		e.lastSeq = c.Events[n-1].Seq
		return
	}
	for _, ev := range c.Events {
		e.own[ev.Seq] = struct{}{}
	}
}
