package dispatch_test

import (
	"testing"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
)

func TestDeclineMovesToNextCandidate(t *testing.T) {
	r := newRig(t, testPolicy())
	r.addWorkers(
		wopt{id: "near", region: "BJ", pos: offset(dongcheng, 1, 0)},
		wopt{id: "mid", region: "BJ", pos: offset(dongcheng, 3, 0)},
		wopt{id: "far", region: "BJ", pos: offset(dongcheng, 8, 0)},
	)
	inc := r.incident(dongcheng, dispatch.SeverityIII, 1)
	for _, want := range []string{"near", "mid", "far"} {
		a, _ := r.slotAssignment(inc.ID, 0)
		if a.WorkerID != want || a.State != dispatch.StateOffered {
			t.Fatalf("got offer to %s (%s), want %s offered", a.WorkerID, a.State, want)
		}
		r.must(r.e.Answer(r.ctx, a.WorkerID, a.ID, false, "busy with family"))
	}
	if got := r.offeredTo(inc.ID, 0); got != "" {
		t.Fatalf("got offer to %s after everyone declined, want none", got)
	}
	if n := len(r.eventsOf(dispatch.EventNeedUnfilled)); n != 1 {
		t.Fatalf("got %d need.unfilled events, want 1", n)
	}
}

func TestOfferExpiresPerSeverity(t *testing.T) {
	for _, tc := range []struct {
		sev  dispatch.Severity
		wait time.Duration
	}{{dispatch.SeverityI, 60 * time.Second}, {dispatch.SeverityIV, 3 * time.Minute}} {
		t.Run(string(tc.sev), func(t *testing.T) {
			r := newRig(t, testPolicy())
			r.addWorkers(
				wopt{id: "a", region: "BJ", pos: offset(dongcheng, 1, 0)},
				wopt{id: "b", region: "BJ", pos: offset(dongcheng, 2, 0)},
			)
			inc := r.incident(dongcheng, tc.sev, 1)
			r.clock.Advance(tc.wait - time.Second)
			r.must(r.e.Tick(r.ctx))
			if got := r.offeredTo(inc.ID, 0); got != "a" {
				t.Fatalf("got offer to %q a second before expiry, want a", got)
			}
			r.clock.Advance(time.Second)
			r.must(r.e.Tick(r.ctx))
			if got := r.offeredTo(inc.ID, 0); got != "b" {
				t.Fatalf("got offer to %q after expiry, want b", got)
			}
			if n := len(r.eventsOf(dispatch.EventExpired)); n != 1 {
				t.Fatalf("got %d expired events, want 1", n)
			}
		})
	}
}
