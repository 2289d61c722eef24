package dispatch_test

import (
	"errors"
	"testing"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/jjj-social-work/dispatch/geo"
)

func TestCloseAndCancelIncident(t *testing.T) {
	r := newRig(t, testPolicy())
	r.addWorkers(
		wopt{id: "a", region: "BJ", pos: offset(dongcheng, 1, 0)},
		wopt{id: "b", region: "BJ", pos: offset(dongcheng, 2, 0)},
		wopt{id: "c", region: "BJ", pos: offset(dongcheng, 3, 0)},
	)
	inc := r.incident(dongcheng, dispatch.SeverityII, 3)
	a, _ := r.slotAssignment(inc.ID, 0)
	b, _ := r.slotAssignment(inc.ID, 1)
	r.must(r.e.Answer(r.ctx, "a", a.ID, true, ""))
	r.must(r.e.Advance(r.ctx, "a", a.ID, dispatch.StateEnRoute))
	r.must(r.e.Advance(r.ctx, "a", a.ID, dispatch.StateOnScene))
	r.must(r.e.Answer(r.ctx, "b", b.ID, true, ""))
	r.clock.Advance(time.Hour)
	wantFieldErr(t, r.e.CloseIncident(r.ctx, dispatch.IncidentAction{IncidentID: inc.ID}), "by", dispatch.ErrInvalid)
	r.must(r.e.CloseIncident(r.ctx, dispatch.IncidentAction{IncidentID: inc.ID, By: "desk", Reason: "water receded"}))
	want := map[string]dispatch.State{"a": dispatch.StateCompleted, "b": dispatch.StateCancelled, "c": dispatch.StateCancelled}
	as, _ := r.e.IncidentAssignments(inc.ID)
	for _, x := range as {
		if x.State != want[x.WorkerID] {
			t.Fatalf("worker %s: got %s, want %s", x.WorkerID, x.State, want[x.WorkerID])
		}
		if w, _ := r.e.Worker(x.WorkerID); w.Active != "" {
			t.Fatalf("worker %s still held after close", w.ID)
		}
	}
	if w, _ := r.e.Worker("a"); len(w.Deployments) != 1 || w.Deployments[0].End.IsZero() {
		t.Fatalf("got deployments %+v, want one closed", w.Deployments)
	}
	wantFieldErr(t, r.e.CancelIncident(r.ctx, dispatch.IncidentAction{IncidentID: inc.ID, By: "desk"}), "status", dispatch.ErrInvalidTransition)
	wantFieldErr(t, r.e.CancelIncident(r.ctx, dispatch.IncidentAction{IncidentID: "inc_x", By: "desk"}), "incident_id", dispatch.ErrNotFound)
	if len(r.store.Claims()) != 0 {
		t.Fatalf("got claims %v after close, want none", r.store.Claims())
	}
}

// TestClaimHeldElsewhere plays a second node that claimed a worker this
// engine still believes free: the store refuses and nothing changes.
func TestClaimHeldElsewhere(t *testing.T) {
	r := newRig(t, testPolicy())
	r.addWorkers(wopt{id: "a", region: "BJ", pos: dongcheng})
	if _, err := r.store.Commit(r.ctx, dispatch.Batch{Claims: []dispatch.Claim{{WorkerID: "a", AssignmentID: "asg_other_node"}}}); err != nil {
		t.Fatal(err)
	}
	_, err := r.e.CreateIncident(r.ctx, dispatch.IncidentInput{Type: "fire", Severity: dispatch.SeverityII, Position: dongcheng,
		Needs: []dispatch.NeedInput{{Skill: "crisis_intervention", Count: 1}}})
	if !errors.Is(err, dispatch.ErrConflict) || !errors.Is(err, dispatch.ErrClaimed) {
		t.Fatalf("got %v, want ErrConflict wrapping ErrClaimed", err)
	}
	if len(r.e.Incidents("", false)) != 0 {
		t.Fatalf("got an incident from a refused batch")
	}
}

// slowRoadETA is a road-network stand-in without a lower bound: the
// worker east of the river is slow to reach.
type slowRoadETA struct{ river float64 }

func (s slowRoadETA) Travel(from, to geo.Point) time.Duration {
	d := time.Duration(geo.DistanceMeters(from, to) / 10 * float64(time.Second))
	if (from.Lng > s.river) != (to.Lng > s.river) {
		d += time.Hour
	}
	return d
}

func TestCustomETA(t *testing.T) {
	pol := testPolicy()
	r := newRig(t, pol)
	e, err := dispatch.New(r.ctx, dispatch.Options{Store: r.store, Policy: &pol, Clock: r.clock, ETA: slowRoadETA{river: dongcheng.Lng + 0.005}})
	r.must(err)
	r.e = e
	r.addWorkers(wopt{id: "across", region: "BJ", pos: offset(dongcheng, 0, 1)}, wopt{id: "same-side", region: "BJ", pos: offset(dongcheng, 0, -4)})
	inc := r.incident(dongcheng, dispatch.SeverityIII, 1)
	a, _ := r.slotAssignment(inc.ID, 0)
	if a.WorkerID != "same-side" || a.Explanation.Cost.TravelS > 600 {
		t.Fatalf("got %s (%+v), want the worker on the same side of the river", a.WorkerID, a.Explanation.Cost)
	}
}

func TestValidateWorkers(t *testing.T) {
	r := newRig(t, testPolicy())
	in := []dispatch.WorkerInput{{ID: "a", Name: "a", HomeRegion: "BJ"}, {ID: "b", Name: "b", HomeRegion: "HE", Skills: []string{"x"}}}
	var ie *dispatch.ItemError
	if err := r.e.ValidateWorkers(in); !errors.As(err, &ie) || ie.Index != 1 {
		t.Fatalf("got %v, want an ItemError at 1", err)
	}
	if r.e.LastSeq() != 0 {
		t.Fatalf("validation wrote events")
	}
}
