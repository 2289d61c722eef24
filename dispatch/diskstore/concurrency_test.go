package diskstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
)

func TestConcurrentCommits(t *testing.T) {
	const writers, perWriter = 16, 60
	s := openT(t, t.TempDir(), Options{})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		fmu      sync.Mutex
		followed []dispatch.Event
	)
	followDone := make(chan error, 1)
	go func() {
		followDone <- s.Follow(ctx, 0, func(evs []dispatch.Event) {
			fmu.Lock()
			followed = append(followed, evs...)
			fmu.Unlock()
		})
	}()

	var mu sync.Mutex
	seen := map[uint64]bool{}
	total := 0
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				n := 1 + (w+i)%3
				c, err := s.Commit(context.Background(), dispatch.Batch{
					Events:  events(n),
					Records: []dispatch.Record{{Kind: dispatch.KindWorker, ID: fmt.Sprintf("w%d", w), Value: json.RawMessage(fmt.Sprint(i))}},
				})
				if err != nil {
					t.Errorf("Commit: %v", err)
					return
				}
				if err := c.Wait(context.Background()); err != nil {
					t.Errorf("Wait: %v", err)
					return
				}
				mu.Lock()
				for j, e := range c.Events {
					if seen[e.Seq] {
						t.Errorf("seq %d handed out twice", e.Seq)
					}
					if j > 0 && e.Seq != c.Events[j-1].Seq+1 {
						t.Errorf("batch seqs not consecutive: %d after %d", e.Seq, c.Events[j-1].Seq)
					}
					seen[e.Seq] = true
				}
				total += n
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	log := allEvents(t, s, 0)
	if len(log) != total {
		t.Fatalf("log has %d events, want %d", len(log), total)
	}
	checkContiguous(t, log, 1)

	deadline := time.Now().Add(5 * time.Second)
	for {
		fmu.Lock()
		n := len(followed)
		fmu.Unlock()
		if n >= total || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-followDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("Follow: got %v, want context.Canceled", err)
	}
	if len(followed) != total {
		t.Fatalf("follower saw %d events, want %d", len(followed), total)
	}
	checkContiguous(t, followed, 1)

	recs, _ := loadAll(t, s)
	for w := range writers {
		if got, want := recs[fmt.Sprintf("worker/w%d", w)], fmt.Sprint(perWriter-1); got != want {
			t.Errorf("worker/w%d: got %s, want %s", w, got, want)
		}
	}
}

// TestRandomOpsAgainstModel runs random batches of claims, releases and
// records against a plain in-memory model of the rules, reopening the store
// now and then, and compares every outcome and the final state.
func TestRandomOpsAgainstModel(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 42))
			dir := t.TempDir()
			s, err := Open(dir, Options{})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer func() { s.Close() }()

			claims := map[string]string{}
			records := map[string]string{}
			var seq uint64
			pick := func(prefix string, n int) string { return fmt.Sprintf("%s%d", prefix, rng.IntN(n)) }

			for op := range 300 {
				var b dispatch.Batch
				for range rng.IntN(3) {
					b.Releases = append(b.Releases, pick("w", 6))
				}
				for range rng.IntN(3) {
					b.Claims = append(b.Claims, claim(pick("w", 6), pick("a", 4)))
				}
				for range rng.IntN(3) {
					r := dispatch.Record{Kind: dispatch.KindAssignment, ID: pick("r", 8)}
					if rng.IntN(3) > 0 {
						r.Value = json.RawMessage(fmt.Sprint(op))
					}
					b.Records = append(b.Records, r)
				}
				b.Events = events(rng.IntN(3))

				// The model: releases first, then claims; all or nothing.
				next := maps.Clone(claims)
				for _, w := range b.Releases {
					delete(next, w)
				}
				ok := true
				for _, c := range b.Claims {
					if held, taken := next[c.WorkerID]; taken && held != c.AssignmentID {
						ok = false
					}
					next[c.WorkerID] = c.AssignmentID
				}

				c, err := s.Commit(context.Background(), b)
				if ok != (err == nil) {
					t.Fatalf("op %d: Commit err %v, model says ok=%v", op, err, ok)
				}
				if err != nil {
					if !errors.Is(err, dispatch.ErrClaimed) {
						t.Fatalf("op %d: got %v, want ErrClaimed", op, err)
					}
					continue
				}
				claims = next
				for _, r := range b.Records {
					if r.Value == nil {
						delete(records, "assignment/"+r.ID)
					} else {
						records["assignment/"+r.ID] = string(r.Value)
					}
				}
				for _, e := range c.Events {
					if seq++; e.Seq != seq {
						t.Fatalf("op %d: got seq %d, want %d", op, e.Seq, seq)
					}
				}
				if rng.IntN(4) == 0 {
					if err := c.Wait(context.Background()); err != nil {
						t.Fatalf("op %d: Wait: %v", op, err)
					}
				}
				if rng.IntN(40) == 0 {
					if err := s.Close(); err != nil {
						t.Fatalf("op %d: Close: %v", op, err)
					}
					if s, err = Open(dir, Options{}); err != nil {
						t.Fatalf("op %d: Open: %v", op, err)
					}
				}
			}
			s.Close()
			s, err = Open(dir, Options{})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if got := s.Claims(); !maps.Equal(got, claims) {
				t.Errorf("claims: got %v, want %v", got, claims)
			}
			got, last := loadAll(t, s)
			if !maps.Equal(got, records) {
				t.Errorf("records: got %v, want %v", got, records)
			}
			if last != seq {
				t.Errorf("last seq: got %d, want %d", last, seq)
			}
			checkContiguous(t, allEvents(t, s, 0), 1)
		})
	}
}
