package dispatch_test

import (
	"encoding/json"
	"maps"
	"testing"

	"github.com/jjj-social-work/dispatch/dispatch"
)

// The offer carries the whole assignment and every later step only what
// it changed, the event itself naming the assignment; folding the events
// in order, field by field as the dashboards do, gives exactly the
// assignment the engine holds.
func TestAssignmentEventsFoldToTheAssignment(t *testing.T) {
	endings := map[string]func(r *rig, a dispatch.Assignment) error{
		"completed": func(r *rig, a dispatch.Assignment) error {
			for _, to := range []dispatch.State{dispatch.StateEnRoute, dispatch.StateOnScene, dispatch.StateCompleted} {
				if err := r.e.Advance(r.ctx, a.WorkerID, a.ID, to); err != nil {
					return err
				}
			}
			return nil
		},
		"declined": func(r *rig, a dispatch.Assignment) error {
			return r.e.Answer(r.ctx, a.WorkerID, a.ID, false, "flooded road")
		},
		"cancelled": func(r *rig, a dispatch.Assignment) error {
			return r.e.Unassign(r.ctx, "coordinator wang", a.ID, "sent elsewhere")
		},
	}
	for name, end := range endings {
		t.Run(name, func(t *testing.T) {
			r := newRig(t, testPolicy())
			r.addWorkers(wopt{id: "W1", region: "HE", pos: zhuozhou})
			inc := r.incident(offset(zhuozhou, 1, 1), dispatch.SeverityII, 1)
			a, ok := r.slotAssignment(inc.ID, 0)
			if !ok {
				t.Fatal("no offer")
			}
			if name != "declined" {
				r.must(r.e.Answer(r.ctx, a.WorkerID, a.ID, true, ""))
			}
			r.must(end(r, a))

			folded := map[string]json.RawMessage{}
			for _, ev := range r.events() {
				if ev.AssignmentID != a.ID || ev.Type[:len("assignment.")] != "assignment." {
					continue
				}
				var fields map[string]json.RawMessage
				r.must(json.Unmarshal(ev.Data, &fields))
				// The event names the assignment; a reader folds that in.
				for k, v := range map[string]string{"id": ev.AssignmentID, "incident_id": ev.IncidentID,
					"worker_id": ev.WorkerID, "region": ev.Region} {
					if _, ok := fields[k]; ok && ev.Type != dispatch.EventOffered {
						t.Fatalf("%s repeats %s in its data: %s", ev.Type, k, ev.Data)
					}
					fields[k], _ = json.Marshal(v)
				}
				if ev.Type != dispatch.EventOffered {
					if _, ok := fields["explanation"]; ok {
						t.Fatalf("%s repeats the explanation: %s", ev.Type, ev.Data)
					}
				}
				maps.Copy(folded, fields)
			}
			want, err := r.e.Assignment(a.ID)
			r.must(err)
			want.Explanation.RunnersUp = nil // events leave them out
			var got dispatch.Assignment
			b, _ := json.Marshal(folded)
			r.must(json.Unmarshal(b, &got))
			if !jsonEqual(t, got, want) {
				gb, _ := json.Marshal(got)
				wb, _ := json.Marshal(want)
				t.Fatalf("folded events:\n%s\nassignment:\n%s", gb, wb)
			}
		})
	}
}
