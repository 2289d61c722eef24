package dispatch_test

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/jjj-social-work/dispatch/geo"
)

// bruteCand is a worker ranked by the test's own reading of PRODUCT §4.
type bruteCand struct {
	id    string
	cost  float64
	local bool
	dist  float64
}

// bruteRank ranks every worker by scanning the roster: hard constraints,
// then cost = weight·travel + region penalty + workload penalty, ties to
// locals, then nearer, then id.
func bruteRank(r *rig, workerIDs []string, inc dispatch.Incident, n dispatch.Need, skip map[string]bool) []bruteCand {
	r.t.Helper()
	now := r.e.NowForTest()
	p := r.pol
	eta := dispatch.GreatCircleETA{RoadFactor: p.Travel.RoadFactor, SpeedKmh: p.Travel.SpeedKmh}
	maxM := p.Travel.MaxTravel.D().Seconds() * p.Travel.SpeedKmh / 3.6 / p.Travel.RoadFactor
	var out []bruteCand
	for _, id := range workerIDs {
		w, err := r.e.Worker(id)
		r.must(err)
		if skip[id] || !w.OnDuty || w.Active != "" || w.Position == nil || w.Cert < n.MinCert ||
			(n.Skill != "" && !slices.Contains(w.Skills, n.Skill)) || (n.Supervisor && !w.Supervisor) ||
			now.Before(w.RestUntil) || dutyHours(w, now, p) >= p.Rest.MaxDuty.D().Hours() {
			continue
		}
		d := geo.DistanceMeters(*w.Position, inc.Position)
		if d > maxM {
			continue
		}
		c := bruteCand{id: id, dist: d, local: w.HomeRegion == inc.Region}
		c.cost = p.Cost.SeverityWeight.Get(inc.Severity) * eta.Travel(*w.Position, inc.Position).Seconds()
		if !c.local {
			c.cost += p.Cost.OutOfRegion.D().Seconds()
		}
		c.cost += math.Min(deployedHours(w, now, p)*p.Cost.WorkloadPerHour.D().Seconds(), p.Cost.WorkloadMax.D().Seconds())
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b bruteCand) int {
		if c := cmp.Compare(a.cost, b.cost); c != 0 {
			return c
		}
		if a.local != b.local {
			if a.local {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(a.dist, b.dist), cmp.Compare(a.id, b.id))
	})
	return out
}

func clipHours(start, end, now time.Time, window time.Duration) float64 {
	if end.IsZero() {
		end = now
	}
	if from := now.Add(-window); start.Before(from) {
		start = from
	}
	return math.Max(0, end.Sub(start).Hours())
}

func dutyHours(w dispatch.Worker, now time.Time, p dispatch.Policy) float64 {
	h := 0.0
	for _, iv := range w.DutyLog {
		h += clipHours(iv.Start, iv.End, now, p.Rest.Window.D())
	}
	if w.OnDuty {
		h += clipHours(w.DutySince, now, now, p.Rest.Window.D())
	}
	return h
}

func deployedHours(w dispatch.Worker, now time.Time, p dispatch.Policy) float64 {
	h := 0.0
	for _, iv := range w.Deployments {
		h += clipHours(iv.Start, iv.End, now, p.Rest.Window.D())
	}
	return h
}

// places are where random workers and incidents cluster.
var places = []struct {
	p      geo.Point
	region string
}{{dongcheng, "BJ"}, {xicheng, "BJ"}, {tongzhou, "BJ"}, {tianjin, "TJ"}, {wuqing, "TJ"}, {zhuozhou, "HE"}, {langfang, "HE"}, {rongcheng, "HE"}}

func randomWorkers(rng *rand.Rand, n int) []wopt {
	skills := dispatch.DefaultSkills()[:4]
	certs := []string{"none", "assistant", "intermediate", "senior"}
	ws := make([]wopt, n)
	for i := range ws {
		pl := places[rng.IntN(len(places))]
		var sk []string
		for _, s := range skills {
			if rng.IntN(2) == 0 {
				sk = append(sk, s)
			}
		}
		if len(sk) == 0 {
			sk = []string{skills[0]}
		}
		ws[i] = wopt{id: fmt.Sprintf("w%04d", i), region: pl.region, cert: certs[rng.IntN(4)], skills: sk,
			pos: offset(pl.p, rng.NormFloat64()*4, rng.NormFloat64()*4), supervisor: rng.IntN(10) == 0, offDuty: rng.IntN(8) == 0}
	}
	// A few pairs at exactly the same spot, to exercise ties.
	for i := 0; i+1 < n && i < 20; i += 2 {
		ws[i+1].pos = ws[i].pos
	}
	return ws
}

// workHistory gives some workers deployments, so that workload penalties
// differ: each accepts an incident at their own position and completes it.
func workHistory(r *rig, ws []wopt, rounds int) {
	r.t.Helper()
	for i := range rounds {
		w := ws[i*7%len(ws)]
		if w.offDuty {
			continue
		}
		wk, err := r.e.Worker(w.id)
		r.must(err)
		if wk.Active != "" {
			continue
		}
		_, err = r.e.Assign(r.ctx, dispatch.Override{Coordinator: "desk", IncidentID: r.incident(*wk.Position, dispatch.SeverityIV, 1).ID,
			NeedIndex: 0, WorkerID: w.id, Reason: "history", Force: true})
		if err != nil && !errors.Is(err, dispatch.ErrConflict) {
			r.t.Fatal(err)
		}
		as, err := r.e.WorkerAssignments(w.id)
		r.must(err)
		for _, a := range as {
			if a.State == dispatch.StateOffered {
				r.must(r.e.Answer(r.ctx, w.id, a.ID, true, ""))
				r.clock.Advance(time.Duration(20+i%40) * time.Minute)
				r.must(r.e.Advance(r.ctx, w.id, a.ID, dispatch.StateEnRoute))
				r.must(r.e.Advance(r.ctx, w.id, a.ID, dispatch.StateOnScene))
				r.must(r.e.Advance(r.ctx, w.id, a.ID, dispatch.StateCompleted))
			}
		}
	}
	// Cancel what the history incidents offered to others.
	for _, inc := range r.e.Incidents("", true) {
		r.must(r.e.CloseIncident(r.ctx, dispatch.IncidentAction{IncidentID: inc.ID, By: "desk"}))
	}
}

func TestSingleMatchEqualsBruteForce(t *testing.T) {
	pol := testPolicy()
	pol.MutualAid = dispatch.MutualAidImmediate
	r := newRig(t, pol)
	rng := rand.New(rand.NewPCG(1, 2))
	ws := randomWorkers(rng, 400)
	r.addWorkers(ws...)
	workHistory(r, ws, 40)
	var all []string
	for _, w := range ws {
		all = append(all, w.id)
	}
	sevs := []dispatch.Severity{dispatch.SeverityI, dispatch.SeverityII, dispatch.SeverityIII, dispatch.SeverityIV}
	for i := range 40 {
		pl := places[rng.IntN(len(places))]
		in := dispatch.IncidentInput{Type: "flood", Severity: sevs[rng.IntN(4)], Position: offset(pl.p, rng.NormFloat64()*3, rng.NormFloat64()*3),
			Needs: []dispatch.NeedInput{{Skill: dispatch.DefaultSkills()[rng.IntN(4)], Count: 1 + rng.IntN(4), MinCert: []string{"", "assistant", "intermediate"}[rng.IntN(3)]}}}
		if rng.IntN(4) == 0 {
			in.Region = places[rng.IntN(len(places))].region
		}
		place, _ := r.pol.Locate(in.Position)
		region := cmp.Or(in.Region, place.Region)
		need := dispatch.Need{Skill: in.Needs[0].Skill, Count: in.Needs[0].Count}
		need.MinCert, _ = dispatch.ParseCert(in.Needs[0].MinCert)
		want := bruteRank(r, all, dispatch.Incident{Position: in.Position, Region: region, Severity: in.Severity}, need, nil)
		inc, err := r.e.CreateIncident(r.ctx, in)
		r.must(err)
		for s := range inc.Slots {
			got := r.offeredTo(inc.ID, s)
			if s >= len(want) {
				if got != "" {
					t.Fatalf("incident %d slot %d: got %s, want nobody (brute force has %d)", i, s, got, len(want))
				}
				continue
			}
			if got != want[s].id {
				t.Fatalf("incident %d slot %d: got %s, want %s (cost %.3f)", i, s, got, want[s].id, want[s].cost)
			}
			a, _ := r.slotAssignment(inc.ID, s)
			if math.Abs(a.Explanation.Cost.TotalS-want[s].cost) > 1e-6 {
				t.Fatalf("incident %d slot %d: got cost %.6f, want %.6f", i, s, a.Explanation.Cost.TotalS, want[s].cost)
			}
		}
		if rng.IntN(3) == 0 { // keep workers free for later incidents
			r.must(r.e.CancelIncident(r.ctx, dispatch.IncidentAction{IncidentID: inc.ID, By: "desk"}))
		}
	}
}

// TestRankEqualsBruteForce compares long ranked lists, where the index's
// early stop matters most.
func TestRankEqualsBruteForce(t *testing.T) {
	pol := testPolicy()
	pol.MutualAid = dispatch.MutualAidImmediate
	r := newRig(t, pol)
	rng := rand.New(rand.NewPCG(3, 4))
	ws := randomWorkers(rng, 600)
	r.addWorkers(ws...)
	workHistory(r, ws, 60)
	for i := range 60 {
		pl := places[rng.IntN(len(places))]
		p := offset(pl.p, rng.NormFloat64()*10, rng.NormFloat64()*10)
		n := dispatch.Need{Skill: dispatch.DefaultSkills()[rng.IntN(4)], MinCert: dispatch.Cert(rng.IntN(3)), Supervisor: rng.IntN(5) == 0}
		k := 1 + rng.IntN(80)
		got := r.e.RankForTest(p, pl.region, dispatch.SeverityIII, n, k)
		want := r.e.BruteRankForTest(p, pl.region, dispatch.SeverityIII, n, k)
		if !slices.EqualFunc(got, want, func(a, b dispatch.Candidate) bool { return a.WorkerID == b.WorkerID }) {
			t.Fatalf("query %d (k=%d): got %v\nwant %v", i, k, names(got), names(want))
		}
	}
}

func names(cs []dispatch.Candidate) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.WorkerID
	}
	return out
}

func TestLocalPreferredAtEqualCost(t *testing.T) {
	pol := testPolicy()
	pol.MutualAid = dispatch.MutualAidImmediate
	pol.Cost.OutOfRegion = 0 // equal cost: only the tie-break prefers the local
	for _, region := range []string{"BJ", "TJ"} {
		t.Run(region, func(t *testing.T) {
			r := newRig(t, pol)
			spot := offset(dongcheng, 2, 2)
			// The non-local worker has the smaller id, so an id tie-break would pick them.
			other := map[string]string{"BJ": "TJ", "TJ": "BJ"}[region]
			r.addWorkers(wopt{id: "a-" + other, region: other, pos: spot}, wopt{id: "b-" + region, region: region, pos: spot})
			inc, err := r.e.CreateIncident(r.ctx, dispatch.IncidentInput{Type: "fire", Severity: dispatch.SeverityII,
				Position: dongcheng, Region: region, Needs: []dispatch.NeedInput{{Skill: "crisis_intervention", Count: 1}}})
			r.must(err)
			if got := r.offeredTo(inc.ID, 0); got != "b-"+region {
				t.Fatalf("got %s, want the local b-%s", got, region)
			}
			a, _ := r.slotAssignment(inc.ID, 0)
			if len(a.Explanation.RunnersUp) != 1 || a.Explanation.RunnersUp[0].Cost.TotalS != a.Explanation.Cost.TotalS {
				t.Fatalf("got runners-up %+v, want the other worker at equal cost", a.Explanation.RunnersUp)
			}
		})
	}
}

func TestOutOfRegionPenalty(t *testing.T) {
	pol := testPolicy()
	pol.MutualAid = dispatch.MutualAidImmediate
	r := newRig(t, pol)
	// The Langfang (HE) worker is nearer to a Tongzhou incident, but not
	// 10 minutes nearer, so the Beijing worker wins.
	r.addWorkers(wopt{id: "he", region: "HE", pos: offset(tongzhou, -2, 0)}, wopt{id: "bj", region: "BJ", pos: offset(tongzhou, 5, 0)})
	inc := r.incident(tongzhou, dispatch.SeverityIII, 1)
	if got := r.offeredTo(inc.ID, 0); got != "bj" {
		t.Fatalf("got %s, want bj", got)
	}
	a, _ := r.slotAssignment(inc.ID, 0)
	ru := a.Explanation.RunnersUp
	if len(ru) != 1 || ru[0].WorkerID != "he" || ru[0].Cost.RegionPenaltyS != 600 || a.Explanation.Mode != dispatch.ModeSingle || a.ChosenBy != dispatch.ChosenByMatcher {
		t.Fatalf("got explanation %+v, want he as runner-up with a 600 s penalty", a.Explanation)
	}
}

func TestSupervisorNeed(t *testing.T) {
	r := newRig(t, testPolicy())
	r.addWorkers(
		wopt{id: "near1", region: "BJ", pos: offset(dongcheng, 1, 0)},
		wopt{id: "near2", region: "BJ", pos: offset(dongcheng, 1.5, 0)},
		wopt{id: "sup", region: "BJ", pos: offset(dongcheng, 9, 0), supervisor: true, skills: []string{"case_management"}},
	)
	inc, err := r.e.CreateIncident(r.ctx, dispatch.IncidentInput{Type: "flood", Severity: dispatch.SeverityII, Position: dongcheng,
		NeedsSupervisor: true, Needs: []dispatch.NeedInput{{Skill: "crisis_intervention", Count: 1}}})
	r.must(err)
	if len(inc.Needs) != 2 || !inc.Needs[1].Supervisor || len(inc.Slots) != 2 {
		t.Fatalf("got needs %+v, want the crisis need and an added supervisor need", inc.Needs)
	}
	if a, b := r.offeredTo(inc.ID, 0), r.offeredTo(inc.ID, 1); a != "near1" || b != "sup" {
		t.Fatalf("got team %s, %s; want near1 and the supervisor", a, b)
	}
}

func TestOverride(t *testing.T) {
	pol := testPolicy()
	pol.MutualAid = dispatch.MutualAidOff // ok (TJ) is not offered a BJ incident by the matcher
	r := newRig(t, pol)
	r.addWorkers(
		wopt{id: "auto", region: "BJ", pos: offset(dongcheng, 1, 0)},
		wopt{id: "off", region: "BJ", pos: offset(dongcheng, 2, 0), offDuty: true, cert: "none"},
		wopt{id: "ok", region: "TJ", pos: tianjin, cert: "senior"},
	)
	inc, err := r.e.CreateIncident(r.ctx, dispatch.IncidentInput{Type: "flood", Severity: dispatch.SeverityII, Position: dongcheng,
		Needs: []dispatch.NeedInput{{Skill: "crisis_intervention", Count: 1, MinCert: "assistant"}}})
	r.must(err)
	if got := r.offeredTo(inc.ID, 0); got != "" {
		t.Fatalf("got %s offered; want nobody (auto has no certificate)", got)
	}
	o := dispatch.Override{Coordinator: "李调度", IncidentID: inc.ID, NeedIndex: 0, WorkerID: "off"}

	_, err = r.e.Assign(r.ctx, o)
	var ce *dispatch.ConstraintError
	if !errors.As(err, &ce) || !errors.Is(err, dispatch.ErrConstraint) ||
		!slices.Equal(ce.Violations, []dispatch.Violation{dispatch.ViolOffDuty, dispatch.ViolCertBelow}) {
		t.Fatalf("got %v, want a ConstraintError for off_duty and cert_below_minimum", err)
	}
	o.Force = true
	_, err = r.e.Assign(r.ctx, o)
	wantFieldErr(t, err, "reason", dispatch.ErrInvalid)

	o.Reason = "only one who knows the family"
	a, err := r.e.Assign(r.ctx, o)
	r.must(err)
	if !a.Forced || a.ChosenBy != "李调度" || a.Explanation.Mode != dispatch.ModeOverride || len(a.Explanation.Violations) != 2 {
		t.Fatalf("got %+v, want a forced override by 李调度", a)
	}
	audit := r.eventsOf(dispatch.EventOverrideAssigned)
	if len(audit) != 1 {
		t.Fatalf("got %d audit events, want 1", len(audit))
	}
	ev := decode[dispatch.OverrideEvent](t, audit[0].Data)
	if ev.Coordinator != "李调度" || ev.Reason != o.Reason || !ev.Forced || audit[0].WorkerID != "" {
		t.Fatalf("got audit %+v (worker %q), want coordinator, reason, forced and no worker address", ev, audit[0].WorkerID)
	}

	// The need is taken by an offer: a second override replaces it.
	a2, err := r.e.Assign(r.ctx, dispatch.Override{Coordinator: "李调度", IncidentID: inc.ID, WorkerID: "ok"})
	r.must(err)
	if a2.Forced || r.offeredTo(inc.ID, 0) != "ok" {
		t.Fatalf("got %+v, want an unforced offer to ok in the same slot", a2)
	}
	// A worker with an active assignment is never assigned twice, forced or not.
	inc2 := r.incident(tianjin, dispatch.SeverityIV, 1)
	_, err = r.e.Assign(r.ctx, dispatch.Override{Coordinator: "x", IncidentID: inc2.ID, WorkerID: "ok", Force: true, Reason: "r"})
	wantFieldErr(t, err, "worker_id", dispatch.ErrConflict)

	// Accepted slots are not taken over.
	r.must(r.e.Answer(r.ctx, "ok", a2.ID, true, ""))
	_, err = r.e.Assign(r.ctx, dispatch.Override{Coordinator: "x", IncidentID: inc.ID, WorkerID: "auto", Force: true, Reason: "r"})
	wantFieldErr(t, err, "need_index", dispatch.ErrConflict)

	// Unassign frees the slot and the matcher moves on, without the same worker.
	r.must(r.e.Unassign(r.ctx, "李调度", a2.ID, "needed elsewhere"))
	if got := r.offeredTo(inc.ID, 0); got == "ok" {
		t.Fatalf("got the unassigned worker offered again")
	}
	if n := len(r.eventsOf(dispatch.EventOverrideUnassigned)); n != 1 {
		t.Fatalf("got %d unassign audit events, want 1", n)
	}
}
