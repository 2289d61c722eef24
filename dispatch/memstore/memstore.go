// Package memstore is an in-memory dispatch.Store for tests: the full
// contract (atomic batches, claims, sequence numbers, EventsAfter, Follow,
// truncation) with nothing durable beyond the process.
package memstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
)

// ErrClosed is returned by every method called after Close.
var ErrClosed = errors.New("memstore closed")

var _ dispatch.Store = (*Store)(nil)

// Store is an in-memory dispatch.Store, safe for concurrent use.
type Store struct {
	mu       sync.Mutex
	records  map[dispatch.RecordKind]map[string][]byte
	claims   map[string]string // worker id -> assignment id
	events   []dispatch.Event  // events[i].Seq == first+i
	first    uint64            // seq of events[0]; lastSeq+1 when empty
	lastSeq  uint64
	notify   chan struct{} // closed and replaced on every commit
	closed   bool
	hook     func(dispatch.Batch) error
	waitErr  error
	refusals int
	now      func() time.Time
}

// New returns an empty store.
func New() *Store {
	return &Store{
		records: make(map[dispatch.RecordKind]map[string][]byte),
		claims:  make(map[string]string),
		first:   1,
		notify:  make(chan struct{}),
		now:     time.Now,
	}
}

// SetCommitHook installs fn, called with every batch before it is
// applied; an error from it fails the Commit with nothing applied. Tests
// use it to inject store failures.
func (s *Store) SetCommitHook(fn func(dispatch.Batch) error) {
	s.mu.Lock()
	s.hook = fn
	s.mu.Unlock()
}

// SetWaitError makes Committed.Wait of later commits return err (nil
// restores success): a store that accepted a batch but failed to make it
// durable.
func (s *Store) SetWaitError(err error) {
	s.mu.Lock()
	s.waitErr = err
	s.mu.Unlock()
}

// Commit applies b atomically; claims are checked with b's releases applied
// first and refused with dispatch.ErrClaimed if a worker is held for
// another assignment.
func (s *Store) Commit(ctx context.Context, b dispatch.Batch) (dispatch.Committed, error) {
	if err := ctx.Err(); err != nil {
		return dispatch.Committed{}, fmt.Errorf("commit: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return dispatch.Committed{}, fmt.Errorf("commit: %w", ErrClosed)
	}
	if s.hook != nil {
		if err := s.hook(b); err != nil {
			return dispatch.Committed{}, fmt.Errorf("commit: %w", err)
		}
	}
	staged, err := s.stageClaims(b)
	if err != nil {
		s.refusals++
		return dispatch.Committed{}, fmt.Errorf("commit: %w", err)
	}
	for _, w := range b.Releases {
		delete(s.claims, w)
	}
	for w, a := range staged {
		s.claims[w] = a
	}
	for _, r := range b.Records {
		s.putRecord(r)
	}
	out := s.appendEvents(b.Events)
	close(s.notify)
	s.notify = make(chan struct{})
	waitErr := s.waitErr
	return dispatch.Committed{Events: out, Wait: func(context.Context) error { return waitErr }}, nil
}

func (s *Store) stageClaims(b dispatch.Batch) (map[string]string, error) {
	released := make(map[string]bool, len(b.Releases))
	for _, w := range b.Releases {
		released[w] = true
	}
	staged := make(map[string]string, len(b.Claims))
	for _, c := range b.Claims {
		held, ok := staged[c.WorkerID]
		if !ok && !released[c.WorkerID] {
			held, ok = s.claims[c.WorkerID]
		}
		if ok && held != c.AssignmentID {
			return nil, fmt.Errorf("claim %s for %s: held for %s: %w", c.WorkerID, c.AssignmentID, held, dispatch.ErrClaimed)
		}
		staged[c.WorkerID] = c.AssignmentID
	}
	return staged, nil
}

func (s *Store) putRecord(r dispatch.Record) {
	m := s.records[r.Kind]
	if m == nil {
		m = make(map[string][]byte)
		s.records[r.Kind] = m
	}
	if len(r.Value) == 0 {
		delete(m, r.ID)
		return
	}
	m[r.ID] = append([]byte(nil), r.Value...)
}

func (s *Store) appendEvents(evs []dispatch.Event) []dispatch.Event {
	out := make([]dispatch.Event, len(evs))
	for i, e := range evs {
		s.lastSeq++
		e.Seq = s.lastSeq
		if e.Time.IsZero() {
			e.Time = s.now().UTC()
		}
		e.Data = append([]byte(nil), e.Data...)
		out[i] = e
		s.events = append(s.events, e)
	}
	return out
}

// Load calls fn with every record and returns the last sequence number.
func (s *Store) Load(ctx context.Context, fn func(dispatch.Record) error) (uint64, error) {
	s.mu.Lock()
	var recs []dispatch.Record
	for kind, m := range s.records {
		for id, v := range m {
			recs = append(recs, dispatch.Record{Kind: kind, ID: id, Value: append([]byte(nil), v...)})
		}
	}
	last := s.lastSeq
	s.mu.Unlock()
	for _, r := range recs {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("load: %w", err)
		}
		if err := fn(r); err != nil {
			return 0, fmt.Errorf("load: %w", err)
		}
	}
	return last, nil
}

// EventsAfter returns up to limit events with Seq > after.
func (s *Store) EventsAfter(ctx context.Context, after uint64, limit int) ([]dispatch.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("events after: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	evs, err := s.slice(after, limit)
	if err != nil {
		return nil, fmt.Errorf("events after %d: %w", after, err)
	}
	return evs, nil
}

// slice copies events after `after`; it needs s.mu.
func (s *Store) slice(after uint64, limit int) ([]dispatch.Event, error) {
	if after+1 < s.first {
		return nil, dispatch.ErrLogTruncated
	}
	start := after + 1 - s.first
	if start >= uint64(len(s.events)) {
		return nil, nil
	}
	evs := s.events[start:]
	if limit > 0 && len(evs) > limit {
		evs = evs[:limit]
	}
	return append([]dispatch.Event(nil), evs...), nil
}

// Follow calls fn with every event after `after`, in order, until ctx ends.
func (s *Store) Follow(ctx context.Context, after uint64, fn func([]dispatch.Event)) error {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return fmt.Errorf("follow: %w", ErrClosed)
		}
		evs, err := s.slice(after, 1024)
		notify := s.notify
		s.mu.Unlock()
		if err != nil {
			return fmt.Errorf("follow after %d: %w", after, err)
		}
		if len(evs) > 0 {
			fn(evs)
			after = evs[len(evs)-1].Seq
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-notify:
		}
	}
}

// TruncateBefore drops events with Seq < seq, as retention would.
func (s *Store) TruncateBefore(seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.events) > 0 && s.events[0].Seq < seq {
		s.events = s.events[1:]
		s.first++
	}
	if len(s.events) == 0 && seq > s.first {
		s.first = min(seq, s.lastSeq+1)
	}
}

// Claims returns a copy of the claim table, worker id to assignment id.
func (s *Store) Claims() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]string, len(s.claims))
	for w, a := range s.claims {
		out[w] = a
	}
	return out
}

// Refusals counts commits refused because a claim was held: the engine
// checks first, so a single-node test expects zero.
func (s *Store) Refusals() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refusals
}

// Close releases followers; later calls fail with ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.notify)
		s.notify = make(chan struct{})
	}
	return nil
}
