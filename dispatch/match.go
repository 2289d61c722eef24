package dispatch

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/jjj-social-work/dispatch/geo"
)

// query is one slot's search: where, for what, and in which scope.
type query struct {
	p      geo.Point
	region string
	sev    Severity
	need   Need
	tried  []string // workers not offered this slot again
	local  bool     // only workers whose home region is the incident's
}

// ranked is a candidate with its cost.
type ranked struct {
	w    *wstate
	cost CostTerms
}

// queryFor builds the search of slot i of inc.
func (e *Engine) queryFor(inc *Incident, i int) query {
	s := inc.Slots[i]
	local := false
	switch e.pol.MutualAid {
	case MutualAidOff:
		local = true
	case MutualAidAfterUnfilled:
		local = !s.Widened
	}
	return query{p: inc.Position, region: inc.Region, sev: inc.Severity, need: inc.Needs[s.Need], tried: s.Tried, local: local}
}

// violations lists the hard constraints (PRODUCT §4) w fails for need at
// now. It allocates only when there are some.
func (e *Engine) violations(w *wstate, n Need, now time.Time) []Violation {
	var vs []Violation
	if !w.OnDuty {
		vs = append(vs, ViolOffDuty)
	}
	if w.Active != "" {
		vs = append(vs, ViolBusy)
	}
	if n.Skill != "" && w.skills&e.skillBit[n.Skill] == 0 {
		vs = append(vs, ViolMissingSkill)
	}
	if w.Cert < n.MinCert {
		vs = append(vs, ViolCertBelow)
	}
	if n.Supervisor && !w.Supervisor {
		vs = append(vs, ViolNotSupervisor)
	}
	if e.dutyTime(&w.Worker, now) >= e.pol.Rest.MaxDuty.D() {
		vs = append(vs, ViolDutyLimit)
	}
	if now.Before(w.RestUntil) {
		vs = append(vs, ViolResting)
	}
	return vs
}

// eligible reports whether the matcher may offer q's slot to w: no hard
// constraint broken, a known position, in scope and not tried before.
func (e *Engine) eligible(w *wstate, q *query, now time.Time) bool {
	if !w.hasPos || !w.OnDuty || w.Active != "" || w.Cert < q.need.MinCert {
		return false
	}
	if q.need.Skill != "" && w.skills&e.skillBit[q.need.Skill] == 0 {
		return false
	}
	if (q.need.Supervisor && !w.Supervisor) || (q.local && w.HomeRegion != q.region) {
		return false
	}
	return e.restOK(&w.Worker, now) && !slices.Contains(q.tried, w.ID)
}

// costOf is w's cost for q (PRODUCT §4): weighted travel time plus the
// region and workload penalties, all in seconds.
func (e *Engine) costOf(w *wstate, q *query, now time.Time) CostTerms {
	c := CostTerms{
		DistanceM:      geo.DistanceMeters(w.pos, q.p),
		TravelS:        e.eta.Travel(w.pos, q.p).Seconds(),
		SeverityWeight: e.pol.Cost.SeverityWeight.Get(q.sev),
		Local:          w.HomeRegion == q.region,
	}
	if !c.Local {
		c.RegionPenaltyS = e.pol.Cost.OutOfRegion.D().Seconds()
	}
	hours := within(w.Deployments, e.pol.Rest.Window.D(), now).Hours()
	c.WorkloadPenaltyS = math.Min(hours*e.pol.Cost.WorkloadPerHour.D().Seconds(), e.pol.Cost.WorkloadMax.D().Seconds())
	c.TotalS = c.SeverityWeight*c.TravelS + c.RegionPenaltyS + c.WorkloadPenaltyS
	return c
}

// compareRanked orders candidates: cheaper first, then local workers (the
// mutual-aid preference at equal cost), then nearer, then by id.
func compareRanked(a, b ranked) int {
	if c := cmp.Compare(a.cost.TotalS, b.cost.TotalS); c != 0 {
		return c
	}
	if a.cost.Local != b.cost.Local {
		if a.cost.Local {
			return -1
		}
		return 1
	}
	return cmp.Or(cmp.Compare(a.cost.DistanceM, b.cost.DistanceM), cmp.Compare(a.w.ID, b.w.ID))
}

// rank returns the k cheapest eligible workers for q in compareRanked
// order, as seen by tx (workers the txn has claimed are not free).
//
// The index yields workers nearest first; penalties are never negative, so
// a worker farther than the last one fetched costs at least the weighted
// lower-bound travel time to that distance. Once k candidates beat that
// bound no one farther can displace them; otherwise the fetch grows. The
// result therefore equals ranking every worker by cost.
func (tx *txn) rank(q *query, k int) []ranked {
	if k <= 0 {
		return nil
	}
	e := tx.e
	f := geo.Filter{
		MinCert: uint8(q.need.MinCert), OnlyAvailable: true, MaxMeters: e.pol.maxMeters(),
		Accept: func(id geo.ID) bool { return tx.acceptable(id, q) },
	}
	if q.need.Skill != "" {
		f.Skills = e.skillBit[q.need.Skill]
	}
	fetch := max(2*k, 16)
	if e.bound == nil {
		fetch = max(k, e.pol.Matching.CandidatePool)
	}
	weight := e.pol.Cost.SeverityWeight.Get(q.sev)
	var nbs []geo.Neighbor
	for {
		var err error
		nbs, err = e.index.Nearest(q.p, fetch, f, nbs[:0])
		if err != nil {
			return nil // the incident's position was validated; nothing to rank
		}
		out := tx.costs(q, nbs)
		if len(nbs) < fetch || e.bound == nil {
			return out[:min(k, len(out))]
		}
		lb := weight * e.bound.MinTravel(nbs[len(nbs)-1].Meters).Seconds()
		if len(out) >= k && out[k-1].cost.TotalS < lb {
			return out[:k]
		}
		fetch *= 4
	}
}

// acceptable is the index filter's last check. The index calls it under
// its read lock, so it reads engine memory only.
func (tx *txn) acceptable(id geo.ID, q *query) bool {
	w := tx.e.byGID[id]
	if tw := tx.workers[w.ID]; tw != nil {
		w = tw
	}
	return tx.e.eligible(w, q, tx.now)
}

func (tx *txn) costs(q *query, nbs []geo.Neighbor) []ranked {
	out := make([]ranked, 0, len(nbs))
	for _, nb := range nbs {
		w := tx.e.byGID[nb.ID]
		if tw := tx.workers[w.ID]; tw != nil {
			w = tw
		}
		out = append(out, ranked{w: w, cost: tx.e.costOf(w, q, tx.now)})
	}
	sortRanked(out)
	return out
}

func sortRanked(rs []ranked) { slices.SortFunc(rs, compareRanked) }

// candidates turns ranked workers into an explanation's runners-up.
func candidates(rs []ranked) []Candidate {
	if len(rs) == 0 {
		return nil
	}
	out := make([]Candidate, len(rs))
	for i, r := range rs {
		out[i] = Candidate{WorkerID: r.w.ID, Cost: r.cost}
	}
	return out
}
