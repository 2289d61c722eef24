package dispatch_test

import (
	"errors"
	"slices"
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

func TestMissesFlagUnfilledThenWiden(t *testing.T) {
	r := newRig(t, testPolicy()) // after_unfilled, 3 misses
	r.addWorkers(
		wopt{id: "he1", region: "HE", pos: offset(zhuozhou, 1, 0)},
		wopt{id: "he2", region: "HE", pos: offset(zhuozhou, 2, 0)},
		wopt{id: "he3", region: "HE", pos: offset(zhuozhou, 3, 0)},
		wopt{id: "he4", region: "HE", pos: offset(zhuozhou, 40, 0)},
		wopt{id: "bj1", region: "BJ", pos: offset(zhuozhou, 0.5, 0)}, // nearest, but Beijing's
	)
	inc := r.incident(zhuozhou, dispatch.SeverityII, 1)
	if inc.Region != "HE" {
		t.Fatalf("got region %s, want HE from the reference points", inc.Region)
	}
	// he1 declines, he2 lets it expire, he3 declines: three misses.
	steps := []struct {
		worker string
		expire bool
	}{{"he1", false}, {"he2", true}, {"he3", false}}
	for _, s := range steps {
		a, _ := r.slotAssignment(inc.ID, 0)
		if a.WorkerID != s.worker {
			t.Fatalf("got offer to %s, want %s", a.WorkerID, s.worker)
		}
		if len(r.eventsOf(dispatch.EventNeedUnfilled)) != 0 {
			t.Fatalf("got need.unfilled before %d misses", r.pol.Offers.MaxMisses)
		}
		if s.expire {
			r.clock.Advance(90 * time.Second)
			r.must(r.e.Tick(r.ctx))
		} else {
			r.must(r.e.Answer(r.ctx, s.worker, a.ID, false, ""))
		}
	}
	unf := r.eventsOf(dispatch.EventNeedUnfilled)
	wid := r.eventsOf(dispatch.EventNeedWidened)
	if len(unf) != 1 || len(wid) != 1 || unf[0].Region != "HE" || unf[0].IncidentID != inc.ID {
		t.Fatalf("got %d unfilled and %d widened events, want one each for HE", len(unf), len(wid))
	}
	if ev := decode[dispatch.NeedEvent](t, unf[0].Data); ev.Misses != 3 || ev.Reason != "misses" {
		t.Fatalf("got %+v, want 3 misses", ev)
	}
	// Widened: the Beijing worker, nearer than he4 even with the penalty.
	a, _ := r.slotAssignment(inc.ID, 0)
	if a.WorkerID != "bj1" || !a.Explanation.Widened || a.Explanation.Cost.RegionPenaltyS == 0 {
		t.Fatalf("got %s (%+v), want bj1 from the widened search", a.WorkerID, a.Explanation)
	}
	r.must(r.e.Answer(r.ctx, "bj1", a.ID, true, ""))
	got, _ := r.e.Incident(inc.ID)
	if got.Slots[0].Unfilled || got.Status != dispatch.IncidentStaffed {
		t.Fatalf("got slot %+v status %s, want filled and staffed", got.Slots[0], got.Status)
	}
}

func TestNoLocalCandidateWidensAtOnce(t *testing.T) {
	r := newRig(t, testPolicy())
	r.addWorkers(wopt{id: "tj", region: "TJ", pos: wuqing})
	inc := r.incident(rongcheng, dispatch.SeverityI, 1)
	if inc.Zone != "xiongan" || !inc.Pilot {
		t.Fatalf("got zone %q pilot %v, want the Xiong'an pilot zone", inc.Zone, inc.Pilot)
	}
	if got := r.offeredTo(inc.ID, 0); got != "tj" {
		t.Fatalf("got %q, want tj after widening", got)
	}
	if ev := decode[dispatch.NeedEvent](t, r.eventsOf(dispatch.EventNeedUnfilled)[0].Data); ev.Reason != "no_candidate" {
		t.Fatalf("got reason %s, want no_candidate", ev.Reason)
	}
}

func TestMutualAidOffNeverWidens(t *testing.T) {
	pol := testPolicy()
	pol.MutualAid = dispatch.MutualAidOff
	r := newRig(t, pol)
	r.addWorkers(wopt{id: "tj", region: "TJ", pos: wuqing})
	inc := r.incident(rongcheng, dispatch.SeverityI, 1)
	if got := r.offeredTo(inc.ID, 0); got != "" || len(r.eventsOf(dispatch.EventNeedWidened)) != 0 {
		t.Fatalf("got %q offered, want nobody and no widening", got)
	}
}

func TestRetryFindsNewlyAvailableWorker(t *testing.T) {
	r := newRig(t, testPolicy())
	r.addWorkers(wopt{id: "late", region: "BJ", pos: offset(dongcheng, 2, 0), offDuty: true})
	inc := r.incident(dongcheng, dispatch.SeverityIII, 1)
	if got := r.offeredTo(inc.ID, 0); got != "" {
		t.Fatalf("got %s, want nobody on duty", got)
	}
	r.must(r.e.SetDuty(r.ctx, "late", true))
	r.clock.Advance(29 * time.Second)
	r.must(r.e.Tick(r.ctx))
	if got := r.offeredTo(inc.ID, 0); got != "" {
		t.Fatalf("got %s before the retry interval, want nobody yet", got)
	}
	r.clock.Advance(time.Second)
	r.must(r.e.Tick(r.ctx))
	if got := r.offeredTo(inc.ID, 0); got != "late" {
		t.Fatalf("got %q after the retry interval, want late", got)
	}
}

func TestRestLimits(t *testing.T) {
	t.Run("duty hours", func(t *testing.T) {
		r := newRig(t, testPolicy())
		r.addWorkers(wopt{id: "tired", region: "BJ", pos: offset(dongcheng, 1, 0)}, wopt{id: "fresh", region: "BJ", pos: offset(dongcheng, 5, 0), offDuty: true})
		r.clock.Advance(12*time.Hour - time.Minute)
		r.must(r.e.SetDuty(r.ctx, "fresh", true))
		if got := r.offeredTo(r.incident(dongcheng, dispatch.SeverityIV, 1).ID, 0); got != "tired" {
			t.Fatalf("got %s at 11h59m on duty, want tired", got)
		}
		r.clock.Advance(time.Minute)
		if got := r.offeredTo(r.incident(dongcheng, dispatch.SeverityIV, 1).ID, 0); got != "fresh" {
			t.Fatalf("got %s at 12h on duty, want fresh", got)
		}
	})
	t.Run("rest after long deployment", func(t *testing.T) {
		r := newRig(t, testPolicy())
		r.addWorkers(wopt{id: "w", region: "BJ", pos: offset(dongcheng, 1, 0)})
		inc := r.incident(dongcheng, dispatch.SeverityIV, 1)
		a, _ := r.slotAssignment(inc.ID, 0)
		r.must(r.e.Answer(r.ctx, "w", a.ID, true, ""))
		r.must(r.e.Advance(r.ctx, "w", a.ID, dispatch.StateEnRoute))
		r.must(r.e.Advance(r.ctx, "w", a.ID, dispatch.StateOnScene))
		r.must(r.e.SetDuty(r.ctx, "w", true)) // no-op while on duty
		r.clock.Advance(6 * time.Hour)
		r.must(r.e.Advance(r.ctx, "w", a.ID, dispatch.StateCompleted))
		// Off and on duty again so that the 12 h duty limit does not interfere.
		r.must(r.e.SetDuty(r.ctx, "w", false))
		r.clock.Advance(7 * time.Hour)
		r.must(r.e.SetDuty(r.ctx, "w", true))
		w, _ := r.e.Worker("w")
		if want := a.OfferedAt.Add(14 * time.Hour); !w.RestUntil.Equal(want) {
			t.Fatalf("got rest until %v, want %v", w.RestUntil, want)
		}
		if got := r.offeredTo(r.incident(dongcheng, dispatch.SeverityIV, 1).ID, 0); got != "" {
			t.Fatalf("got %s offered during rest, want nobody", got)
		}
		_, err := r.e.Assign(r.ctx, dispatch.Override{Coordinator: "c", IncidentID: r.incident(dongcheng, dispatch.SeverityIV, 1).ID, WorkerID: "w"})
		var ce *dispatch.ConstraintError
		if !errors.As(err, &ce) || !slices.Equal(ce.Violations, []dispatch.Violation{dispatch.ViolResting}) {
			t.Fatalf("got %v, want a resting violation", err)
		}
		r.clock.Advance(time.Hour)
		if got := r.offeredTo(r.incident(dongcheng, dispatch.SeverityIV, 1).ID, 0); got != "w" {
			t.Fatalf("got %q after the rest, want w", got)
		}
	})
}

func TestOffDutyDeclinesOfferAndDeployedCannotLeave(t *testing.T) {
	r := newRig(t, testPolicy())
	r.addWorkers(wopt{id: "a", region: "BJ", pos: offset(dongcheng, 1, 0)}, wopt{id: "b", region: "BJ", pos: offset(dongcheng, 2, 0)})
	inc := r.incident(dongcheng, dispatch.SeverityIII, 1)
	r.must(r.e.SetDuty(r.ctx, "a", false))
	a, _ := r.slotAssignment(inc.ID, 0)
	if a.WorkerID != "b" {
		t.Fatalf("got %s, want b after a went off duty", a.WorkerID)
	}
	r.must(r.e.Answer(r.ctx, "b", a.ID, true, ""))
	seq := r.e.LastSeq()
	wantFieldErr(t, r.e.SetDuty(r.ctx, "b", false), "on_duty", dispatch.ErrConflict)
	if r.e.LastSeq() != seq {
		t.Fatalf("a refused duty change wrote events")
	}
}
