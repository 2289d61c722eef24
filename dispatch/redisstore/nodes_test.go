package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/jjj-social-work/dispatch/internal/redistest"
)

// TestNodesShareState runs three Stores (three nodes, each with its own
// client) on one prefix, committing at once with overlapping claims. The
// properties: no worker ever holds two claims, every seq is handed out once
// and the log is contiguous, and every node's Follow sees the same events
// in the same order.
func TestNodesShareState(t *testing.T) {
	const nodes, perNode, ops, workers = 3, 4, 120, 8
	srv := redistest.Start(t)
	opts := (&env{}).fresh(Options{})
	var stores []*Store
	var followers []*follower
	for range nodes {
		e := &env{rdb: newClient(t, srv.Addr())}
		s := e.open(t, opts)
		stores = append(stores, s)
		followers = append(followers, follow(t, s, 0))
	}

	var (
		mu        sync.Mutex
		seqs      = map[uint64]bool{}
		total     int
		conflicts int
		wg        sync.WaitGroup
	)
	for n, s := range stores {
		for g := range perNode {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(n), uint64(g)))
				for i := range ops {
					w := fmt.Sprintf("w%d", rng.IntN(workers))
					var b dispatch.Batch
					if rng.IntN(5) < 3 {
						a := fmt.Sprintf("a%d.%d.%d", n, g, i)
						b.Claims = []dispatch.Claim{claim(w, a)}
						b.Events = []dispatch.Event{{Type: "test.claimed", WorkerID: w, AssignmentID: a}}
						b.Records = []dispatch.Record{{Kind: dispatch.KindAssignment, ID: a, Value: []byte(`{}`)}}
					} else {
						b.Releases = []string{w}
						b.Events = []dispatch.Event{{Type: "test.released", WorkerID: w}}
					}
					c, err := s.Commit(context.Background(), b)
					mu.Lock()
					switch {
					case errors.Is(err, dispatch.ErrClaimed):
						conflicts++
					case err != nil:
						t.Errorf("node %d: Commit: %v", n, err)
					default:
						for _, e := range c.Events {
							if seqs[e.Seq] {
								t.Errorf("seq %d handed out twice", e.Seq)
							}
							seqs[e.Seq] = true
						}
						total += len(c.Events)
					}
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if conflicts == 0 {
		t.Fatalf("no claim conflicts: the workload did not overlap")
	}
	t.Logf("%d events committed, %d claims refused", total, conflicts)

	log := allEvents(t, stores[0], 0)
	if len(log) != total {
		t.Fatalf("log has %d events, want %d", len(log), total)
	}
	checkContiguous(t, log, 1)

	// Replay the log in seq order: a claim while another is held is the
	// violation the store exists to prevent.
	held := map[string]string{}
	for _, e := range log {
		switch e.Type {
		case "test.claimed":
			if a, ok := held[e.WorkerID]; ok && a != e.AssignmentID {
				t.Fatalf("seq %d: %s claimed for %s while holding %s", e.Seq, e.WorkerID, e.AssignmentID, a)
			}
			held[e.WorkerID] = e.AssignmentID
		case "test.released":
			delete(held, e.WorkerID)
		}
	}
	for n, s := range stores {
		if got := claimsOf(t, s); fmt.Sprint(got) != fmt.Sprint(held) {
			t.Errorf("node %d: claims: got %v, want %v from the log", n, got, held)
		}
	}
	for n, f := range followers {
		seen := f.waitFor(t, total, 10*time.Second)
		if err := f.stop(t); !errors.Is(err, context.Canceled) {
			t.Errorf("node %d: Follow: got %v, want context.Canceled", n, err)
		}
		if len(seen) != total {
			t.Fatalf("node %d: follower saw %d events, want %d", n, len(seen), total)
		}
		for i, e := range seen {
			w := log[i]
			if e.Seq != w.Seq || e.Type != w.Type || e.WorkerID != w.WorkerID || e.AssignmentID != w.AssignmentID {
				t.Fatalf("node %d: event %d: got %+v, want %+v", n, i, e, w)
			}
		}
	}
}
