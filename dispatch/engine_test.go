package dispatch_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/jjj-social-work/dispatch/geo"
)

func TestCommitFailureChangesNothing(t *testing.T) {
	r := newRig(t, testPolicy())
	r.addWorkers(wopt{id: "w", region: "BJ", pos: dongcheng})
	boom := errors.New("disk on fire")
	r.store.SetCommitHook(func(dispatch.Batch) error { return boom })
	_, err := r.e.CreateIncident(r.ctx, validIncident())
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want the store's error", err)
	}
	if n := len(r.e.Incidents("", false)); n != 0 {
		t.Fatalf("got %d incidents after a failed commit, want 0", n)
	}
	if w, _ := r.e.Worker("w"); w.Active != "" {
		t.Fatalf("got worker claimed (%s) after a failed commit", w.Active)
	}
	r.store.SetCommitHook(nil)
	inc := r.incident(dongcheng, dispatch.SeverityII, 1)
	if got := r.offeredTo(inc.ID, 0); got != "w" {
		t.Fatalf("got %q, want w still free in memory and index", got)
	}
}

func TestDurabilityFailureStopsWrites(t *testing.T) {
	r := newRig(t, testPolicy())
	r.addWorkers(wopt{id: "w", region: "BJ", pos: dongcheng})
	r.store.SetWaitError(errors.New("fsync failed"))
	if err := r.e.SetDuty(r.ctx, "w", false); !errors.Is(err, dispatch.ErrUnavailable) {
		t.Fatalf("got %v, want ErrUnavailable", err)
	}
	r.store.SetWaitError(nil)
	if err := r.e.UpdatePosition(r.ctx, "w", tongzhou); !errors.Is(err, dispatch.ErrUnavailable) {
		t.Fatalf("got %v after a durability failure, want writes refused", err)
	}
	r.restart() // a restart reloads what the store holds and works again
	r.must(r.e.UpdatePosition(r.ctx, "w", tongzhou))
}

func TestUpdatePosition(t *testing.T) {
	r := newRig(t, testPolicy())
	r.addWorkers(wopt{id: "a", region: "BJ", pos: offset(dongcheng, 1, 0)}, wopt{id: "b", region: "BJ", pos: offset(dongcheng, 3, 0)})
	r.must(r.e.UpdatePosition(r.ctx, "b", dongcheng))
	evs := r.eventsOf(dispatch.EventWorkerPosition)
	if len(evs) != 1 || evs[0].WorkerID != "b" || evs[0].Region != "BJ" {
		t.Fatalf("got %+v, want one position event for b in BJ", evs)
	}
	if p := decode[dispatch.PositionEvent](t, evs[0].Data).Position; p != dongcheng {
		t.Fatalf("got %v, want %v", p, dongcheng)
	}
	wantFieldErr(t, r.e.UpdatePosition(r.ctx, "b", geo.Point{Lat: math.NaN()}), "position.lat", dispatch.ErrInvalid)
	wantFieldErr(t, r.e.UpdatePosition(r.ctx, "nobody", dongcheng), "worker_id", dispatch.ErrNotFound)
	r.restart() // the index is rebuilt from the position records
	w, _ := r.e.Worker("b")
	if w.Position == nil || *w.Position != dongcheng {
		t.Fatalf("got position %v after restart, want %v", w.Position, dongcheng)
	}
	if got := r.offeredTo(r.incident(dongcheng, dispatch.SeverityII, 1).ID, 0); got != "b" {
		t.Fatalf("got %s, want b at its new position", got)
	}
	near, err := r.e.WorkersNear(dongcheng, dispatch.NearQuery{K: 5, OnlyAvailable: true})
	r.must(err)
	if len(near) != 1 || near[0].Worker.ID != "a" {
		t.Fatalf("got %v, want only a available", near)
	}
}

func TestSnapshotAndReads(t *testing.T) {
	r := newRig(t, testPolicy())
	r.addWorkers(wopt{id: "bj", region: "BJ", pos: dongcheng}, wopt{id: "tj", region: "TJ", pos: tianjin})
	ib := r.incident(dongcheng, dispatch.SeverityII, 1)
	it := r.incident(tianjin, dispatch.SeverityII, 1)
	s, err := r.e.Snapshot(r.ctx, dispatch.SnapshotOptions{Region: "TJ", Workers: true})
	r.must(err)
	if s.Seq != r.e.LastSeq() || len(s.Incidents) != 1 || s.Incidents[0].ID != it.ID || len(s.Assignments) != 1 || len(s.Workers) != 1 {
		t.Fatalf("got %+v, want TJ's incident, assignment and worker at the last seq", s)
	}
	if got := r.e.Incidents("BJ", true); len(got) != 1 || got[0].ID != ib.ID {
		t.Fatalf("got %v, want BJ's incident", got)
	}
	as, err := r.e.WorkerAssignments("bj")
	r.must(err)
	if len(as) != 1 || as[0].IncidentID != ib.ID {
		t.Fatalf("got %v, want bj's one assignment", as)
	}
	// Reads are copies.
	as[0].Explanation.RunnersUp = append(as[0].Explanation.RunnersUp, dispatch.Candidate{WorkerID: "x"})
	inc, _ := r.e.Incident(ib.ID)
	inc.Slots[0].Tried = append(inc.Slots[0].Tried, "x")
	again, _ := r.e.Incident(ib.ID)
	if len(again.Slots[0].Tried) != 0 {
		t.Fatalf("a caller's change leaked into the engine")
	}
	if c := r.e.CellCounts(5, true); len(c) != 0 {
		t.Fatalf("got %v, want no available workers (both offered)", c)
	}
}

// TestRunDrivesExpiry is the one test on real timers: Run must expire an
// offer without anyone calling Tick.
func TestRunDrivesExpiry(t *testing.T) {
	pol := testPolicy()
	pol.Offers.Timeout.II = dispatch.Duration(50 * time.Millisecond)
	r := newRig(t, pol)
	e, err := dispatch.New(r.ctx, dispatch.Options{Store: r.store, Policy: &pol}) // the system clock
	r.must(err)
	r.e = e
	r.addWorkers(wopt{id: "a", region: "BJ", pos: offset(dongcheng, 1, 0)}, wopt{id: "b", region: "BJ", pos: offset(dongcheng, 2, 0)})
	ctx, cancel := context.WithCancel(r.ctx)
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	inc := r.incident(dongcheng, dispatch.SeverityII, 1)
	deadline := time.Now().Add(5 * time.Second)
	for r.offeredTo(inc.ID, 0) != "b" {
		if time.Now().After(deadline) {
			t.Fatalf("offer to a did not expire under Run")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: got %v, want nil after cancel", err)
	}
}
