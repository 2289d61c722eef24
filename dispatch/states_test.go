package dispatch_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
)

// driveTo brings a fresh one-worker incident's assignment to state s.
func driveTo(r *rig, s dispatch.State) dispatch.Assignment {
	r.t.Helper()
	r.addWorkers(wopt{id: "w1", region: "BJ", pos: offset(dongcheng, 1, 0)})
	inc := r.incident(dongcheng, dispatch.SeverityIV, 1)
	a, _ := r.slotAssignment(inc.ID, 0)
	path := map[dispatch.State][]dispatch.State{
		dispatch.StateAccepted:  {dispatch.StateAccepted},
		dispatch.StateEnRoute:   {dispatch.StateAccepted, dispatch.StateEnRoute},
		dispatch.StateOnScene:   {dispatch.StateAccepted, dispatch.StateEnRoute, dispatch.StateOnScene},
		dispatch.StateCompleted: {dispatch.StateAccepted, dispatch.StateEnRoute, dispatch.StateOnScene, dispatch.StateCompleted},
		dispatch.StateDeclined:  {dispatch.StateDeclined},
		dispatch.StateExpired:   {dispatch.StateExpired},
		dispatch.StateCancelled: {dispatch.StateCancelled},
	}[s]
	for _, to := range path {
		r.must(transitionSteps()[to](r, a))
	}
	a, err := r.e.Assignment(a.ID)
	r.must(err)
	if a.State != s {
		r.t.Fatalf("got %s while driving, want %s", a.State, s)
	}
	return a
}

// transitionSteps are the ways the outside world moves an assignment.
func transitionSteps() map[dispatch.State]func(*rig, dispatch.Assignment) error {
	advance := func(to dispatch.State) func(*rig, dispatch.Assignment) error {
		return func(r *rig, a dispatch.Assignment) error { return r.e.Advance(r.ctx, a.WorkerID, a.ID, to) }
	}
	return map[dispatch.State]func(*rig, dispatch.Assignment) error{
		dispatch.StateAccepted: func(r *rig, a dispatch.Assignment) error { return r.e.Answer(r.ctx, a.WorkerID, a.ID, true, "") },
		dispatch.StateDeclined: func(r *rig, a dispatch.Assignment) error { return r.e.Answer(r.ctx, a.WorkerID, a.ID, false, "") },
		dispatch.StateExpired: func(r *rig, a dispatch.Assignment) error {
			r.clock.Advance(time.Hour)
			return r.e.Tick(r.ctx)
		},
		dispatch.StateEnRoute:   advance(dispatch.StateEnRoute),
		dispatch.StateOnScene:   advance(dispatch.StateOnScene),
		dispatch.StateCompleted: advance(dispatch.StateCompleted),
		dispatch.StateCancelled: func(r *rig, a dispatch.Assignment) error {
			return r.e.Unassign(r.ctx, "coordinator wang", a.ID, "test")
		},
	}
}

func TestStateMachineTable(t *testing.T) {
	for _, from := range dispatch.States() {
		for to, step := range transitionSteps() {
			t.Run(string(from)+"->"+string(to), func(t *testing.T) {
				r := newRig(t, testPolicy())
				a := driveTo(r, from)
				seq := r.e.LastSeq()
				err := step(r, a)
				got, gerr := r.e.Assignment(a.ID)
				r.must(gerr)
				if dispatch.CanMove(from, to) {
					if err != nil || got.State != to {
						t.Fatalf("got state %s, err %v; want %s", got.State, err, to)
					}
					return
				}
				if to == dispatch.StateExpired {
					// Time passing is not a request: it just must not touch this assignment.
					r.must(err)
				} else {
					wantFieldErr(t, err, "state", dispatch.ErrInvalidTransition)
					if r.e.LastSeq() != seq {
						t.Fatalf("got seq %d after a refused transition, want %d", r.e.LastSeq(), seq)
					}
				}
				if !reflect.DeepEqual(got, a) {
					t.Fatalf("assignment changed by a refused transition:\ngot  %+v\nwant %+v", got, a)
				}
			})
		}
	}
}

func TestCanMoveTable(t *testing.T) {
	allowed := map[[2]dispatch.State]bool{}
	for _, p := range [][2]dispatch.State{
		{dispatch.StateOffered, dispatch.StateAccepted}, {dispatch.StateOffered, dispatch.StateDeclined},
		{dispatch.StateOffered, dispatch.StateExpired}, {dispatch.StateOffered, dispatch.StateCancelled},
		{dispatch.StateAccepted, dispatch.StateEnRoute}, {dispatch.StateAccepted, dispatch.StateCancelled},
		{dispatch.StateEnRoute, dispatch.StateOnScene}, {dispatch.StateEnRoute, dispatch.StateCancelled},
		{dispatch.StateOnScene, dispatch.StateCompleted}, {dispatch.StateOnScene, dispatch.StateCancelled},
	} {
		allowed[p] = true
	}
	for _, from := range dispatch.States() {
		for _, to := range dispatch.States() {
			if got, want := dispatch.CanMove(from, to), allowed[[2]dispatch.State{from, to}]; got != want {
				t.Errorf("CanMove(%s, %s): got %v, want %v", from, to, got, want)
			}
		}
	}
}

func TestAnswerChecksOwnerAndIDs(t *testing.T) {
	r := newRig(t, testPolicy())
	r.addWorkers(wopt{id: "w2", region: "BJ", pos: offset(dongcheng, 50, 0)})
	a := driveTo(r, dispatch.StateOffered)
	wantFieldErr(t, r.e.Answer(r.ctx, "w2", a.ID, true, ""), "assignment_id", dispatch.ErrForbidden)
	wantFieldErr(t, r.e.Answer(r.ctx, "w1", "asg_nope", true, ""), "assignment_id", dispatch.ErrNotFound)
	wantFieldErr(t, r.e.Advance(r.ctx, "w1", a.ID, "flying"), "state", dispatch.ErrInvalid)
	wantFieldErr(t, r.e.Advance(r.ctx, "w1", a.ID, dispatch.StateAccepted), "state", dispatch.ErrInvalidTransition)
}
