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
	// Expect makes the batch conditional: a SharedStore refuses it with
	// ErrStale unless every named record still holds what the writer
	// last saw. A store with one writer may ignore it: the engine's own
	// lock already orders its writes.
	Expect []Expect
}

// RecordRef names one record.
type RecordRef struct {
	Kind RecordKind `json:"kind"`
	ID   string     `json:"id"`
}

// Expect is a precondition on one record: its stored value hashes to
// SHA1 (lowercase hex of the SHA-1 of the value's bytes), or, if SHA1 is
// empty, the record does not exist. A content hash needs no version kept
// beside each record, and two equal values are the same state anyway.
type Expect struct {
	RecordRef
	SHA1 string `json:"sha1,omitempty"`
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

// ErrStale means a batch's Expect failed: another writer changed a record
// since this one read it. Nothing was written; reread and try again.
var ErrStale = errors.New("record changed by another writer")

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

// SharedStore is a Store that several engines ("nodes") share, each with
// its own memory. The engine then makes every write conditional on the
// records it changes (Batch.Expect), follows the change feed to apply the
// other nodes' changes, and rereads the records those events name, since
// events do not carry everything (a worker's phone, for one).
type SharedStore interface {
	Store
	// Records returns the current value of each named record that exists,
	// read at one instant; missing records are left out.
	Records(ctx context.Context, refs []RecordRef) ([]Record, error)
}
