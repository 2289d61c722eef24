package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Event is one state change. Every change the engine makes is an event with
// a strictly increasing sequence number in one log (PRODUCT §5).
type Event struct {
	Seq          uint64          `json:"seq"`
	Time         time.Time       `json:"time"`
	Type         string          `json:"type"`             // e.g. "incident.created", "assignment.offered"
	Region       string          `json:"region,omitempty"` // BJ, TJ or HE: for region-scoped coordinators
	WorkerID     string          `json:"worker_id,omitempty"`
	IncidentID   string          `json:"incident_id,omitempty"`
	AssignmentID string          `json:"assignment_id,omitempty"`
	Data         json.RawMessage `json:"data,omitempty"`
}

// RecordKind names a kind of entity kept as latest state.
type RecordKind string

// The kinds of Record.
const (
	KindWorker     RecordKind = "worker"
	KindIncident   RecordKind = "incident"
	KindAssignment RecordKind = "assignment"
)

// Record is the latest state of one entity, kept beside the log so that a
// restart loads state instead of replaying every event ever written.
// A nil Value deletes the record.
type Record struct {
	Kind  RecordKind      `json:"kind"`
	ID    string          `json:"id"`
	Value json.RawMessage `json:"value,omitempty"`
}

// Claim reserves a worker for an assignment. A store refuses a batch with
// ErrClaimed when the worker already holds a claim for another assignment;
// this is the atomic "claim this worker for this need" step of PRODUCT §6.
type Claim struct {
	WorkerID     string `json:"worker_id"`
	AssignmentID string `json:"assignment_id"`
}

// Batch is what one engine operation writes: all of it or none of it.
type Batch struct {
	Events   []Event  // Seq and Time are assigned by the store if zero
	Records  []Record // upserts (or deletes) of latest state
	Claims   []Claim  // workers to claim
	Releases []string // worker ids whose claim ends
}

// Committed is the result of Store.Commit.
type Committed struct {
	// Events are the batch's events with their sequence numbers.
	Events []Event
	// Wait blocks until the batch is durable. The engine acknowledges an
	// operation only after Wait returns nil. Never nil.
	Wait func(context.Context) error
}

// ErrClaimed means a claimed worker already holds an active claim.
var ErrClaimed = errors.New("worker already claimed")

// ErrLogTruncated means the log no longer reaches back to the asked
// sequence: the reader must reload a snapshot (PRODUCT §5).
var ErrLogTruncated = errors.New("event log truncated")

// Store is the one boundary around authoritative state (PRODUCT §6): latest
// records, worker claims and the event log change together, atomically.
// The embedded store and the Redis store implement it; nothing above it
// knows which one runs.
type Store interface {
	// Commit applies b atomically: it assigns sequence numbers in call order
	// and returns as soon as they are fixed; Committed.Wait reports
	// durability. Concurrent Commits may share one disk sync.
	Commit(ctx context.Context, b Batch) (Committed, error)
	// Load calls fn for every stored record (at start-up) and returns the
	// last sequence number in the log.
	Load(ctx context.Context, fn func(Record) error) (lastSeq uint64, err error)
	// EventsAfter returns up to limit durable events with Seq > after, in
	// order. It returns ErrLogTruncated if events after `after` were
	// trimmed.
	EventsAfter(ctx context.Context, after uint64, limit int) ([]Event, error)
	// Follow is the change feed: it calls fn with every durable event after
	// `after`, in sequence order, each exactly once, first from the log and
	// then as new events become durable, until ctx ends (it then returns
	// ctx.Err()). fn runs on the feed's goroutine and must not block long.
	// It returns ErrLogTruncated if the log no longer reaches back.
	Follow(ctx context.Context, after uint64, fn func([]Event)) error
	// Close flushes and releases the store.
	Close() error
}
