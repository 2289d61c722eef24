// Package dispatch is the dispatch engine: workers, incidents, assignments
// and their state machine, matching (single and joint), offers with
// timeouts and escalation, coordinator overrides, and the one event log.
// It does no I/O of its own: state changes go through a Store, time comes
// from a Clock, travel times from an ETA. See docs/engine.md.
package dispatch

import (
	"context"
	"crypto/sha1"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/jjj-social-work/dispatch/geo"
)

// KindPosition is the record kind of a worker's last position, kept apart
// from the worker record so that the frequent position updates write a few
// bytes instead of the whole worker.
const KindPosition RecordKind = "position"

// Options configure New. Store is required; nil Policy means
// DefaultPolicy(), nil Clock the system clock, nil ETA a GreatCircleETA
// from the policy, nil Logger discards.
type Options struct {
	Store  Store
	Policy *Policy
	Clock  Clock
	ETA    ETA
	Logger *slog.Logger
}

// Engine is the dispatch engine. It is safe for concurrent use. Every write
// validates first, commits one Batch to the Store, applies it to memory and
// the geo index, and returns only once the Store reports it durable.
type Engine struct {
	store Store
	pol   Policy
	clock Clock
	eta   ETA
	bound ETABound // nil if the ETA gives no lower bound
	log   *slog.Logger

	skillBit map[string]uint64 // read-only after New
	index    *geo.Index        // a cache of worker state, rebuilt at start
	wake     chan struct{}     // nudges Run when deadlines may have moved

	mu          sync.RWMutex
	workers     map[string]*wstate
	byGID       []*wstate
	incidents   map[string]*Incident
	assignments map[string]*Assignment
	byWorker    map[string][]string  // assignment ids per worker, oldest first
	byIncident  map[string][]string  // assignment ids per incident, oldest first
	offers      map[string]time.Time // offered assignment id -> expiry
	waiting     map[slotRef]struct{} // open slots queued for a batch or waiting to retry
	recent      []time.Time          // incident creations inside the batch window
	batchDue    time.Time            // when the open joint batch is solved; zero if none
	lastSeq     uint64
	lastWait    func(context.Context) error // durability of the latest commit
	broken      error

	// Several nodes (shared is nil on a store with one writer; see shared.go).
	shared     SharedStore
	sums       map[recordKey][sha1.Size]byte // each record's hash as this node last saw it
	own        map[uint64]struct{}           // seqs committed here, until the feed passes them
	fed        uint64                        // last seq applied from the feed (or loaded)
	following  bool                          // the feed runs: it, not commits, moves lastSeq
	retryLater map[slotRef]time.Time         // next search of a slot whose last one found nobody, kept here only
	mine       map[string]struct{}           // offers this node made: others wait foreignExpiryGrace before expiring theirs

	pos posGroup // group commit of position updates
}

// wstate is a worker as the engine holds it: the record plus what the
// matcher needs without parsing strings.
type wstate struct {
	Worker
	gid    geo.ID
	skills uint64
	pos    geo.Point
	posAt  time.Time
	hasPos bool
	posSeq uint64 // seq of the position event applied last, on a shared store
}

// slotRef names one slot of one incident.
type slotRef struct {
	incident string
	slot     int
}

// New builds an engine on a store: it loads every record, rebuilds memory
// and the geo index, and returns. Call Run to drive offer expiry, retries
// and joint batches, or Tick from tests.
func New(ctx context.Context, o Options) (*Engine, error) {
	if o.Store == nil {
		return nil, errors.New("new engine: no store")
	}
	e := &Engine{
		store: o.Store, pol: DefaultPolicy(), clock: o.Clock, eta: o.ETA, log: o.Logger,
		index: geo.NewIndex(), wake: make(chan struct{}, 1),
		lastWait: func(context.Context) error { return nil },
	}
	e.shared, _ = o.Store.(SharedStore)
	e.resetMemory()
	if o.Policy != nil {
		e.pol = clonePolicy(*o.Policy)
	}
	if err := e.pol.Validate(); err != nil {
		return nil, fmt.Errorf("new engine: %w", err)
	}
	if e.clock == nil {
		e.clock = systemClock{}
	}
	if e.eta == nil {
		e.eta = GreatCircleETA{RoadFactor: e.pol.Travel.RoadFactor, SpeedKmh: e.pol.Travel.SpeedKmh}
	}
	e.bound, _ = e.eta.(ETABound)
	if e.log == nil {
		e.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	e.skillBit = make(map[string]uint64, len(e.pol.Skills))
	for i, s := range e.pol.Skills {
		e.skillBit[s] = 1 << i
	}
	if err := e.load(ctx); err != nil {
		return nil, fmt.Errorf("new engine: %w", err)
	}
	return e, nil
}

func clonePolicy(p Policy) Policy {
	b, err := json.Marshal(p)
	if err != nil {
		return p
	}
	var q Policy
	if json.Unmarshal(b, &q) != nil {
		return p
	}
	return q
}

// Policy returns the engine's policy.
func (e *Engine) Policy() Policy { return clonePolicy(e.pol) }

// resetMemory empties the engine's state and its index, before a load.
func (e *Engine) resetMemory() {
	for _, w := range e.byGID {
		e.index.Remove(w.gid)
	}
	e.workers, e.byGID = make(map[string]*wstate), nil
	e.incidents, e.assignments = make(map[string]*Incident), make(map[string]*Assignment)
	e.byWorker, e.byIncident = make(map[string][]string), make(map[string][]string)
	e.offers, e.waiting = make(map[string]time.Time), make(map[slotRef]struct{})
	e.batchDue, e.recent = time.Time{}, nil
	e.retryLater, e.mine = make(map[slotRef]time.Time), make(map[string]struct{})
	if e.shared != nil {
		e.sums = make(map[recordKey][sha1.Size]byte)
	}
}

// load reads every record and rebuilds memory: workers first (positions may
// come before their worker), then incidents and assignments.
func (e *Engine) load(ctx context.Context) error {
	positions := make(map[string]positionRecord)
	last, err := e.store.Load(ctx, func(r Record) error {
		return e.loadRecord(r, positions)
	})
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	for id, p := range positions {
		if w := e.workers[id]; w != nil {
			w.pos, w.posAt, w.hasPos = geo.Point{Lat: p.Lat, Lng: p.Lng}, p.At, true
		}
	}
	for _, w := range e.byGID {
		e.indexWorker(w)
	}
	for id, a := range e.assignments {
		e.byWorker[a.WorkerID] = append(e.byWorker[a.WorkerID], id)
		e.byIncident[a.IncidentID] = append(e.byIncident[a.IncidentID], id)
		if a.State == StateOffered {
			e.offers[id] = a.ExpiresAt
		}
	}
	for _, inc := range e.incidents {
		e.trackWaiting(inc)
	}
	// The batch window's deadline is not stored: slots queued before a
	// restart are solved at the first tick.
	for ref := range e.waiting {
		if e.incidents[ref.incident].Slots[ref.slot].Queued {
			e.batchDue = e.now()
			break
		}
	}
	e.lastSeq, e.fed = last, last
	if e.shared != nil {
		if err := e.completeLoadLocked(ctx); err != nil {
			return fmt.Errorf("load: %w", err)
		}
	}
	e.log.Info("engine loaded", "workers", len(e.workers), "incidents", len(e.incidents),
		"assignments", len(e.assignments), "last_seq", last)
	return nil
}

func (e *Engine) loadRecord(r Record, positions map[string]positionRecord) error {
	e.noteSum(r)
	var err error
	switch r.Kind {
	case KindWorker:
		var w Worker
		if err = json.Unmarshal(r.Value, &w); err == nil {
			e.putWorker(&wstate{Worker: w})
		}
	case KindPosition:
		var p positionRecord
		if err = json.Unmarshal(r.Value, &p); err == nil {
			positions[r.ID] = p
		}
	case KindIncident:
		var inc Incident
		if err = json.Unmarshal(r.Value, &inc); err == nil {
			e.incidents[inc.ID] = &inc
		}
	case KindAssignment:
		var a Assignment
		if err = json.Unmarshal(r.Value, &a); err == nil {
			e.assignments[a.ID] = &a
		}
	default:
		e.log.Warn("load: unknown record kind skipped", "kind", r.Kind)
	}
	if err != nil {
		return fmt.Errorf("record %s/%s: %w", r.Kind, r.ID, err)
	}
	return nil
}

// putWorker installs w, giving it a dense geo id if it is new, and
// recomputes its skill mask. It does not touch the index.
func (e *Engine) putWorker(w *wstate) {
	if old := e.workers[w.ID]; old != nil {
		w.gid = old.gid
	} else {
		w.gid = geo.ID(len(e.byGID))
		e.byGID = append(e.byGID, w)
	}
	w.skills = 0
	for _, s := range w.Skills {
		w.skills |= e.skillBit[s]
	}
	e.workers[w.ID] = w
	e.byGID[w.gid] = w
}

// indexWorker brings the index in line with w.
func (e *Engine) indexWorker(w *wstate) {
	if !w.hasPos {
		e.index.Remove(w.gid)
		return
	}
	attrs := geo.Attrs{Skills: w.skills, Cert: uint8(w.Cert), Available: w.OnDuty && w.Active == ""}
	if err := e.index.Upsert(w.gid, w.pos, attrs); err != nil {
		// Positions are validated before they are stored; a bad one here
		// means a damaged record, and the worker stays out of matching.
		e.log.Error("index worker", "worker", w.ID, "err", err)
	}
}

// positionRecord is the value of a KindPosition record.
type positionRecord struct {
	Lat float64   `json:"lat"`
	Lng float64   `json:"lng"`
	At  time.Time `json:"at"`
}

// now is the engine's clock, in UTC so that stored times compare simply.
func (e *Engine) now() time.Time { return e.clock.Now().UTC() }

// signal nudges Run to recompute its next deadline.
func (e *Engine) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}
