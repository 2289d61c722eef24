package diskstore

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
)

// openT opens a store in dir and closes it when the test ends.
func openT(t testing.TB, dir string, opts Options) *Store {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// mustCommit commits b and waits for it to be durable.
func mustCommit(t testing.TB, s *Store, b dispatch.Batch) []dispatch.Event {
	t.Helper()
	c, err := s.Commit(context.Background(), b)
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if err := c.Wait(context.Background()); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	return c.Events
}

func ev(typ string) dispatch.Event { return dispatch.Event{Type: typ} }

func events(n int) []dispatch.Event {
	out := make([]dispatch.Event, n)
	for i := range out {
		out[i] = dispatch.Event{Type: "test.event", Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))}
	}
	return out
}

// allEvents reads the whole retained log through EventsAfter.
func allEvents(t testing.TB, s *Store, after uint64) []dispatch.Event {
	t.Helper()
	var out []dispatch.Event
	for {
		evs, err := s.EventsAfter(context.Background(), after, 0)
		if err != nil {
			t.Fatalf("EventsAfter(%d): %v", after, err)
		}
		if len(evs) == 0 {
			return out
		}
		out = append(out, evs...)
		after = evs[len(evs)-1].Seq
	}
}

// loadAll returns the stored records as "kind/id" -> value, and the last seq.
func loadAll(t testing.TB, s *Store) (map[string]string, uint64) {
	t.Helper()
	got := map[string]string{}
	last, err := s.Load(context.Background(), func(r dispatch.Record) error {
		got[string(r.Kind)+"/"+r.ID] = string(r.Value)
		return nil
	})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return got, last
}

// checkContiguous fails unless evs have seqs from, from+1, ... in order.
func checkContiguous(t testing.TB, evs []dispatch.Event, from uint64) {
	t.Helper()
	for i, e := range evs {
		if want := from + uint64(i); e.Seq != want {
			t.Fatalf("event %d: got seq %d, want %d", i, e.Seq, want)
		}
	}
}

// clock is a settable Now for retention tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2023, 7, 31, 8, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// stableGoroutines returns the goroutine count once it is at most want, or
// after a second of waiting; want < 0 just waits for it to settle briefly.
func stableGoroutines(want int) int {
	deadline := time.Now().Add(time.Second)
	for {
		n := runtime.NumGoroutine()
		if (want >= 0 && n <= want) || time.Now().After(deadline) {
			return n
		}
		if want < 0 {
			time.Sleep(10 * time.Millisecond)
			return runtime.NumGoroutine()
		}
		time.Sleep(5 * time.Millisecond)
	}
}
