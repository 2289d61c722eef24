package dispatch_test

import (
	"testing"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
)

// TestJointBatchBeatsGreedy builds the textbook case where first come,
// first served is worse: B takes the worker C needs.
func TestJointBatchBeatsGreedy(t *testing.T) {
	pol := testPolicy()
	pol.Batch = dispatch.BatchPolicy{Window: dispatch.Duration(2 * time.Second), MinIncidents: 2}
	r := newRig(t, pol)
	r.addWorkers(
		wopt{id: "tj", region: "TJ", pos: tianjin},
		wopt{id: "x", region: "BJ", pos: dongcheng},
		wopt{id: "y", region: "BJ", pos: offset(dongcheng, 10, 0)},
	)
	a := r.incident(tianjin, dispatch.SeverityIII, 1) // first of the burst: at once
	if got := r.offeredTo(a.ID, 0); got != "tj" {
		t.Fatalf("got %q, want tj offered at once", got)
	}
	b := r.incident(offset(dongcheng, 4, 0), dispatch.SeverityIII, 1)
	// Ids order incidents of one millisecond at random: make B come first.
	r.clock.Advance(time.Millisecond)
	c := r.incident(offset(dongcheng, -1, 0), dispatch.SeverityIII, 1)
	if !b.Slots[0].Queued || !c.Slots[0].Queued || r.offeredTo(b.ID, 0) != "" {
		t.Fatalf("got slots %+v %+v, want both queued for the batch", b.Slots[0], c.Slots[0])
	}
	r.clock.Advance(time.Second)
	r.must(r.e.Tick(r.ctx))
	if r.offeredTo(b.ID, 0) != "" {
		t.Fatalf("batch solved before its window closed")
	}
	r.clock.Advance(time.Second)
	r.must(r.e.Tick(r.ctx))
	if gb, gc := r.offeredTo(b.ID, 0), r.offeredTo(c.ID, 0); gb != "y" || gc != "x" {
		t.Fatalf("got B→%s C→%s, want B→y C→x", gb, gc)
	}
	evs := r.eventsOf(dispatch.EventSurgeSolved)
	if len(evs) != 1 || evs[0].Region != "BJ" {
		t.Fatalf("got %d surge events, want 1 for BJ", len(evs))
	}
	ev := decode[dispatch.JointBatchEvent](t, evs[0].Data)
	if ev.Slots != 2 || ev.Filled != 2 || ev.GreedyFilled != 2 || !(ev.TotalS < ev.GreedyTotalS) || ev.SavedS <= 0 {
		t.Fatalf("got %+v, want both filled, cheaper than greedy", ev)
	}
	as, _ := r.slotAssignment(b.ID, 0)
	if as.Explanation.Mode != dispatch.ModeJoint || len(as.Explanation.RunnersUp) != 1 {
		t.Fatalf("got explanation %+v, want a joint pick with x as runner-up", as.Explanation)
	}
	// A decline while no batch is open is matched at once again.
	r.must(r.e.Answer(r.ctx, "y", as.ID, false, ""))
	if got := r.offeredTo(b.ID, 0); got != "" {
		t.Fatalf("got %s, want nobody left for B", got)
	}
}

func TestQueuedSlotsSurviveRestart(t *testing.T) {
	pol := testPolicy()
	pol.Batch = dispatch.BatchPolicy{Window: dispatch.Duration(2 * time.Second), MinIncidents: 2}
	r := newRig(t, pol)
	r.addWorkers(wopt{id: "a", region: "BJ", pos: dongcheng}, wopt{id: "b", region: "BJ", pos: offset(dongcheng, 3, 0)})
	r.incident(dongcheng, dispatch.SeverityIII, 1)
	inc := r.incident(dongcheng, dispatch.SeverityIII, 1)
	if !inc.Slots[0].Queued {
		t.Fatalf("got slot %+v, want queued", inc.Slots[0])
	}
	r.restart()
	r.must(r.e.Tick(r.ctx))
	if got := r.offeredTo(inc.ID, 0); got != "b" {
		t.Fatalf("got %q after restart and a tick, want b", got)
	}
}
