package dispatch_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
)

// activeTracker replays assignment events and fails the moment a worker
// holds two active assignments.
type activeTracker struct {
	state  map[string]dispatch.State // assignment -> state
	active map[string]map[string]bool
	last   uint64
	seen   atomic.Uint64 // last, for other goroutines
}

func newActiveTracker() *activeTracker {
	return &activeTracker{state: map[string]dispatch.State{}, active: map[string]map[string]bool{}}
}

func (tr *activeTracker) apply(ev dispatch.Event) error {
	if ev.Seq != tr.last+1 {
		return fmt.Errorf("got seq %d after %d, want no gap", ev.Seq, tr.last)
	}
	tr.last = ev.Seq
	tr.seen.Store(ev.Seq)
	if ev.AssignmentID == "" || ev.WorkerID == "" {
		return nil
	}
	var a dispatch.Assignment
	if err := jsonUnmarshal(ev.Data, &a); err != nil {
		return err
	}
	a.ID, a.WorkerID = ev.AssignmentID, ev.WorkerID // steps after the offer name them in the event only
	if prev, ok := tr.state[a.ID]; ok && !dispatch.CanMove(prev, a.State) {
		return fmt.Errorf("event %d: assignment %s moved %s -> %s", ev.Seq, a.ID, prev, a.State)
	}
	tr.state[a.ID] = a.State
	set := tr.active[a.WorkerID]
	if set == nil {
		set = map[string]bool{}
		tr.active[a.WorkerID] = set
	}
	if a.State.Active() {
		set[a.ID] = true
	} else {
		delete(set, a.ID)
	}
	if len(set) > 1 {
		return fmt.Errorf("event %d: worker %s holds %d active assignments", ev.Seq, a.WorkerID, len(set))
	}
	return nil
}

// checkSnapshot verifies the invariant on the engine's own view.
func checkSnapshot(ctx context.Context, e *dispatch.Engine) error {
	s, err := e.Snapshot(ctx, dispatch.SnapshotOptions{})
	if err != nil {
		return err
	}
	held := map[string]string{}
	for _, a := range s.Assignments {
		if !a.State.Active() {
			continue
		}
		if other, ok := held[a.WorkerID]; ok {
			return fmt.Errorf("snapshot at %d: worker %s holds %s and %s", s.Seq, a.WorkerID, other, a.ID)
		}
		held[a.WorkerID] = a.ID
		w, err := e.Worker(a.WorkerID)
		if err != nil {
			return err
		}
		if w.Active != a.ID && w.Active != "" {
			// The worker may have moved on since the snapshot; it must not hold another one now while a is still active.
			if cur, err := e.Assignment(a.ID); err == nil && cur.State.Active() {
				return fmt.Errorf("worker %s: active %s, but %s is active too", w.ID, w.Active, a.ID)
			}
		}
	}
	return nil
}

// expectedErr reports whether err is one a racing client may get.
func expectedErr(err error) bool {
	return err == nil || errors.Is(err, dispatch.ErrInvalidTransition) || errors.Is(err, dispatch.ErrConflict) ||
		errors.Is(err, dispatch.ErrForbidden) || errors.Is(err, dispatch.ErrNotFound) || errors.Is(err, dispatch.ErrConstraint)
}

func TestPropertyNeverTwoActiveAssignments(t *testing.T) {
	pol := testPolicy()
	pol.Batch = dispatch.BatchPolicy{Window: dispatch.Duration(20 * time.Second), MinIncidents: 3}
	r := newRig(t, pol)
	const nWorkers = 24
	var ws []wopt
	for i, id := range ids("w", nWorkers) {
		ws = append(ws, wopt{id: id, region: []string{"BJ", "BJ", "TJ"}[i%3], pos: offset(dongcheng, float64(i%5), float64(i/5)), supervisor: i%6 == 0})
	}
	r.addWorkers(ws...)

	ctx, cancel := context.WithCancel(r.ctx)
	defer cancel()
	follow := make(chan error, 1)
	tr := newActiveTracker()
	go func() {
		var ferr error
		err := r.store.Follow(ctx, 0, func(evs []dispatch.Event) {
			for _, ev := range evs {
				if ferr == nil {
					ferr = tr.apply(ev)
				}
			}
		})
		follow <- errors.Join(ferr, ignoreCanceled(err))
	}()

	var wg sync.WaitGroup
	fail := make(chan error, 64)
	step := func(err error) {
		if !expectedErr(err) {
			fail <- err
			return
		}
		if err := checkSnapshot(r.ctx, r.e); err != nil {
			fail <- err
		}
	}
	actors := []func(rng *rand.Rand){
		func(rng *rand.Rand) { // intake
			in := dispatch.IncidentInput{Type: "flood", Severity: dispatch.SeverityII, Position: offset(dongcheng, rng.Float64()*5, rng.Float64()*5),
				Needs: []dispatch.NeedInput{{Skill: "crisis_intervention", Count: 1 + rng.IntN(3)}}, NeedsSupervisor: rng.IntN(4) == 0}
			_, err := r.e.CreateIncident(r.ctx, in)
			step(err)
		},
		func(rng *rand.Rand) { // a worker answers or advances
			w := ws[rng.IntN(len(ws))].id
			as, err := r.e.WorkerAssignments(w)
			if err != nil || len(as) == 0 {
				step(err)
				return
			}
			a := as[rng.IntN(len(as))]
			switch rng.IntN(4) {
			case 0:
				step(r.e.Answer(r.ctx, w, a.ID, true, ""))
			case 1:
				step(r.e.Answer(r.ctx, w, a.ID, false, "no"))
			case 2:
				step(r.e.Advance(r.ctx, w, a.ID, []dispatch.State{dispatch.StateEnRoute, dispatch.StateOnScene, dispatch.StateCompleted}[rng.IntN(3)]))
			default:
				step(r.e.SetDuty(r.ctx, w, rng.IntN(3) > 0))
			}
		},
		func(rng *rand.Rand) { // a coordinator overrides
			incs := r.e.Incidents("", true)
			if len(incs) == 0 {
				return
			}
			inc := incs[rng.IntN(len(incs))]
			if rng.IntN(3) == 0 {
				as, _ := r.e.IncidentAssignments(inc.ID)
				if len(as) > 0 {
					step(r.e.Unassign(r.ctx, "coordinator", as[rng.IntN(len(as))].ID, "test"))
				}
				return
			}
			_, err := r.e.Assign(r.ctx, dispatch.Override{Coordinator: "coordinator", IncidentID: inc.ID, NeedIndex: rng.IntN(len(inc.Needs)),
				WorkerID: ws[rng.IntN(len(ws))].id, Force: rng.IntN(2) == 0, Reason: "drill"})
			step(err)
		},
		func(rng *rand.Rand) { // time passes
			r.clock.Advance(time.Duration(5+rng.IntN(40)) * time.Second)
			step(r.e.Tick(r.ctx))
		},
		func(rng *rand.Rand) { // incidents end
			incs := r.e.Incidents("", true)
			if len(incs) > 4 {
				act := dispatch.IncidentAction{IncidentID: incs[0].ID, By: "desk"}
				if rng.IntN(2) == 0 {
					step(r.e.CloseIncident(r.ctx, act))
				} else {
					step(r.e.CancelIncident(r.ctx, act))
				}
			}
		},
	}
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 99))
			for range 100 {
				actors[(g+rng.IntN(3))%len(actors)](rng)
			}
		}()
	}
	wg.Wait()
	close(fail)
	for err := range fail {
		t.Fatal(err)
	}
	// Let the follower catch up, then stop it.
	for deadline := time.Now().Add(5 * time.Second); ; {
		if last := r.e.LastSeq(); tr.seen.Load() >= last || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-follow; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d events, %d assignments", tr.last, len(tr.state))
	if tr.last != r.e.LastSeq() {
		t.Fatalf("follower saw up to %d, want %d", tr.last, r.e.LastSeq())
	}
	if n := r.store.Refusals(); n != 0 {
		t.Fatalf("store refused %d claims; the engine must catch double claims first", n)
	}
	checkClaims(t, r)
	// The same state after a restart from the store.
	before, err := r.e.Snapshot(r.ctx, dispatch.SnapshotOptions{Workers: true})
	r.must(err)
	r.restart()
	after, err := r.e.Snapshot(r.ctx, dispatch.SnapshotOptions{Workers: true})
	r.must(err)
	if !jsonEqual(t, before, after) {
		t.Fatalf("state differs after restart")
	}
}

// checkClaims compares the store's claim table with the engine's workers.
func checkClaims(t *testing.T, r *rig) {
	t.Helper()
	claims := r.store.Claims()
	for _, id := range ids("w", 24) {
		w, err := r.e.Worker(id)
		r.must(err)
		if claims[w.ID] != w.Active {
			t.Fatalf("worker %s: store claim %q, engine active %q", w.ID, claims[w.ID], w.Active)
		}
	}
}
