package dispatch

import (
	"cmp"
	"math"
	"slices"
)

// Surge matching (PRODUCT §4 "Surge"): when many needs are open at once they
// are solved together as one minimum-cost assignment instead of first come,
// first served.
//
// Objective. Rows are need slots (a need with count 3 is three rows),
// columns are workers, each used at most once. The solver first maximises
// the number of filled rows and then minimises the total cost of the filled
// rows. Both levels are handled exactly by giving every row a private "stay
// unfilled" option of cost M, where M is symbolic: costs and dual values are
// pairs a·M + c compared lexicographically (surgeCost), so M is larger than
// any sum of real costs and no big-number rounding enters the real part.
//
// Algorithm. Successive shortest augmenting paths, one row at a time, with
// Dijkstra over reduced costs c - u_row - v_worker on the sparse graph and
// early exit at the first free worker (or the cheapest "unfilled" option).
// It keeps, as invariants of the assignment LP with the unfilled option:
//
//	u_r + v_j <= c_rj for every edge, with equality on assigned edges,
//	u_r <= M, with equality for unfilled rows,
//	v_j <= 0, with v_j = 0 for every free worker.
//
// These are dual feasibility and complementary slackness for
//
//	min Σ c_rj x_rj + M Σ y_r  s.t.  Σ_j x_rj + y_r = 1,  Σ_r x_rj <= 1,  x, y >= 0
//
// whose dual is max Σ u_r + Σ v_j s.t. u_r + v_j <= c_rj, u_r <= M, v_j <= 0.
// Weak duality holds over any ordered field, the symbolic M included, so the
// assignment is optimal for (unfilled count, cost) in lexicographic order.
//
// Candidate lists and the certificate. The full graph is never built: the
// caller yields each row's k cheapest feasible workers. Solve on those lists
// (the restricted graph), then extend the duals to the full graph with
// v_j = 0 for workers that appear in no list (they are free, so slackness
// holds). An edge (r, j) left out of row r's list costs at least b_r, the
// largest cost the list returned, and v_j <= 0 for every worker, so
// u_r <= b_r gives u_r + v_j <= b_r <= c_rj: the duals stay feasible on the
// full graph, slackness is unchanged, and the restricted optimum is the
// global one. Rows whose list is complete (the generator returned fewer than
// asked) have no left-out edges. A row that violates u_r <= b_r has its
// list grown (see growth) and the whole problem is solved again; every round
// grows some truncated list, so rounds end. An unfilled row has u_r = M, and
// every row it competes with through alternating paths has a u carrying M
// too, so none of them passes: when needs cannot all be filled, the rows
// that compete for their workers are widened until their lists are
// complete, since a worker past a list might be free. The check allows a
// relative slack of surgeCertTol on b_r for rounding, so the total is
// optimal to within rows·surgeCertTol·|b| of the exact optimum.

// SurgeEdge is one feasible pairing of a need slot with a worker.
type SurgeEdge struct {
	Worker int32   // the caller's dense worker handle, >= 0
	Cost   float64 // finite; lower is better
}

// SurgeResult is a surge assignment and the greedy baseline for the same
// rows, so that the engine can show what solving jointly saved.
type SurgeResult struct {
	Assign       []int32 // per row: the assigned worker handle, or -1 when unfilled
	Total        float64 // sum of the costs of the filled rows
	Filled       int     // rows with a worker; as many as any assignment can fill
	Rounds       int     // solves until optimality was certified; 1 if the first lists sufficed
	GreedyTotal  float64 // Total of GreedySurge on the same rows
	GreedyFilled int     // Filled of GreedySurge on the same rows
}

// surgeStartK is the first list length asked of each row: enough that most
// rows of a real surge are certified without a second round.
const surgeStartK = 16

// surgeCertTol is the relative rounding slack of the optimality check.
const surgeCertTol = 1e-9

// SolveSurge assigns workers to rows 0..rows-1 so that as many rows as
// possible are filled and, among those assignments, the total cost is
// minimal. It also runs GreedySurge on the same rows and reports its totals.
//
// candidates(row, k) must return the k cheapest feasible workers of row in
// ascending cost (ties in any fixed order), or all of them if there are
// fewer than k; fewer than k means the list is complete. Optimality rests on
// no left-out worker being cheaper than a returned one: a nearest-k list by
// distance meets that only if Cost never falls as distance grows, so cost
// terms that do not grow with distance (region or workload penalties) must
// be accounted for by the caller, e.g. by fetching past k. It must be
// deterministic and is called from the caller's goroutine only, possibly
// several times per row with growing k. SolveSurge copies what it returns,
// so a buffer may be reused. Edges with a negative worker or a cost that is
// NaN or infinite are ignored; a worker listed twice for one row counts at
// its lower cost.
//
// The result is deterministic for deterministic candidates. Time is about
// one Dijkstra over the candidate lists per row per round; rows that compete
// with unfillable rows are widened until their lists are complete, so a
// caller with scarce workers should bound the lists (e.g. by distance).
func SolveSurge(rows int, candidates func(row, k int) []SurgeEdge) SurgeResult {
	return surgeSolve(rows, candidates, surgeStartK)
}

// GreedySurge is the first-come baseline: rows in order, each takes its
// cheapest still-free worker (lower handle on equal cost), or stays unfilled
// (-1) when none is left. candidates follows the contract of SolveSurge.
func GreedySurge(rows int, candidates func(row, k int) []SurgeEdge) (assign []int32, total float64, filled int) {
	if rows <= 0 {
		return []int32{}, 0, 0
	}
	ls := newSurgeLists(rows, candidates, surgeStartK)
	return ls.greedy()
}

func surgeSolve(rows int, candidates func(row, k int) []SurgeEdge, startK int) SurgeResult {
	if rows <= 0 {
		return SurgeResult{Assign: []int32{}}
	}
	ls := newSurgeLists(rows, candidates, startK)
	var s surgeSolver
	res := SurgeResult{Assign: make([]int32, rows)}
	for {
		res.Rounds++
		s.solve(ls)
		widened := false
		for r := range rows {
			if ls.complete[r] || s.certified(r, ls.bound[r]) {
				continue
			}
			ls.widenBy(r, s.growth(r, ls))
			widened = true
		}
		if !widened {
			break
		}
	}
	for r := range rows {
		res.Assign[r] = -1
		if c := s.rowCol[r]; c >= 0 {
			res.Assign[r] = s.colWorker[c]
			res.Total += s.matchedCost(r)
			res.Filled++
		}
	}
	_, res.GreedyTotal, res.GreedyFilled = ls.greedy()
	return res
}

// surgeLists caches each row's candidate list, sorted by (cost, worker).
type surgeLists struct {
	gen      func(row, k int) []SurgeEdge
	edges    [][]SurgeEdge
	k        []int     // the k last asked of gen, per row
	complete []bool    // gen returned fewer than k: no feasible edge is missing
	bound    []float64 // every edge missing from the list costs at least this
}

func newSurgeLists(rows int, gen func(row, k int) []SurgeEdge, startK int) *surgeLists {
	ls := &surgeLists{
		gen:      gen,
		edges:    make([][]SurgeEdge, rows),
		k:        make([]int, rows),
		complete: make([]bool, rows),
		bound:    make([]float64, rows),
	}
	for r := range rows {
		ls.fetch(r, max(startK, 1))
	}
	return ls
}

// widen doubles row r's list; widenBy multiplies it by f.
func (ls *surgeLists) widen(r int) { ls.widenBy(r, 2) }

func (ls *surgeLists) widenBy(r, f int) {
	k := ls.k[r]
	if k > math.MaxInt32/f {
		ls.complete[r] = true // no more distinct int32 workers can exist
		return
	}
	ls.fetch(r, f*k)
}

// growth is the factor by which an uncertified row's list grows. Costs of
// travel rise about as the square root of the rank (workers spread over an
// area), so a row whose dual u sits x times as far above its cheapest cost
// as its last candidate does needs about x² times as many; the margin and
// the clamp keep a poor guess from costing more than a round. A row whose u
// carries M competes with an unfilled row, and its list must usually grow
// to completion, so it grows fast.
func (s *surgeSolver) growth(r int, ls *surgeLists) int {
	u, es := s.u[r], ls.edges[r]
	if u.big != 0 {
		return 4
	}
	if len(es) == 0 || ls.bound[r] <= es[0].Cost {
		return 2
	}
	x := (u.c - es[0].Cost) / (ls.bound[r] - es[0].Cost)
	return int(min(32, max(2, math.Ceil(1.5*x*x))))
}

func (ls *surgeLists) fetch(r, k int) {
	got := ls.gen(r, k)
	ls.k[r] = k
	ls.complete[r] = len(got) < k
	es := ls.edges[r][:0]
	bound := math.Inf(-1)
	for _, e := range got {
		if e.Worker < 0 || math.IsNaN(e.Cost) || math.IsInf(e.Cost, 0) {
			continue
		}
		es = append(es, e)
		bound = max(bound, e.Cost)
	}
	// Order by (cost, worker) so that ties resolve to the lower worker
	// handle. A worker listed twice needs no care: the solver and greedy
	// meet its cheaper edge first and the dearer one never helps.
	if !slices.IsSortedFunc(es, surgeEdgeCompare) {
		slices.SortFunc(es, surgeEdgeCompare)
	}
	ls.edges[r] = es
	ls.bound[r] = bound
}

func surgeEdgeCompare(a, b SurgeEdge) int {
	return cmp.Or(cmp.Compare(a.Cost, b.Cost), cmp.Compare(a.Worker, b.Worker))
}

// greedy runs the first-come baseline, widening a row's list only when every
// worker on it is taken.
func (ls *surgeLists) greedy() (assign []int32, total float64, filled int) {
	assign = make([]int32, len(ls.edges))
	taken := make(map[int32]struct{})
	for r := range ls.edges {
		assign[r] = -1
		for {
			i := slices.IndexFunc(ls.edges[r], func(e SurgeEdge) bool {
				_, ok := taken[e.Worker]
				return !ok
			})
			if i >= 0 {
				e := ls.edges[r][i]
				taken[e.Worker] = struct{}{}
				assign[r] = e.Worker
				total += e.Cost
				filled++
				break
			}
			if ls.complete[r] {
				break
			}
			ls.widen(r)
		}
	}
	return assign, total, filled
}

// surgeCost is big·M + c for a symbolic M larger than any sum of real costs.
type surgeCost struct {
	c   float64
	big int32
}

func surgeLess(a, b surgeCost) bool {
	return a.big < b.big || (a.big == b.big && a.c < b.c)
}

func (a surgeCost) add(b surgeCost) surgeCost { return surgeCost{a.c + b.c, a.big + b.big} }
func (a surgeCost) sub(b surgeCost) surgeCost { return surgeCost{a.c - b.c, a.big - b.big} }

// surgeUnfilled marks a row that took its "stay unfilled" option.
const surgeUnfilled = -2

// surgeSolver is the exact sparse assignment on the current lists. Columns
// are local indices of the workers that appear in any list.
type surgeSolver struct {
	// graph in compressed rows
	start     []int32 // row r's edges are start[r]:start[r+1]
	col       []int32
	cost      []float64
	colWorker []int32
	colOf     map[int32]int32

	// duals and assignment
	u      []surgeCost
	v      []surgeCost
	rowCol []int32 // column, -1 free, surgeUnfilled
	colRow []int32 // row, -1 free

	// one Dijkstra's scratch, reset through epochs
	dist     []surgeCost
	pred     []int32
	seen     []uint32 // epoch at which dist was set
	done     []uint32 // epoch at which the column was settled
	epoch    uint32
	ub       surgeCost // no sink is farther: the best free column or unfilled option seen
	rowDist  []surgeCost
	heap     surgeHeap
	doneRows []int32
	doneCols []int32
}

func (s *surgeSolver) solve(ls *surgeLists) {
	rows := len(ls.edges)
	s.build(ls)
	n := len(s.colWorker)
	s.u = slices.Grow(s.u[:0], rows)[:rows]
	s.rowCol = slices.Grow(s.rowCol[:0], rows)[:rows]
	s.rowDist = slices.Grow(s.rowDist[:0], rows)[:rows]
	s.v = slices.Grow(s.v[:0], n)[:n]
	s.colRow = slices.Grow(s.colRow[:0], n)[:n]
	s.dist = slices.Grow(s.dist[:0], n)[:n]
	s.pred = slices.Grow(s.pred[:0], n)[:n]
	s.seen = slices.Grow(s.seen[:0], n)[:n]
	s.done = slices.Grow(s.done[:0], n)[:n]
	for j := range n {
		s.v[j] = surgeCost{}
		s.colRow[j] = -1
		s.seen[j] = 0
		s.done[j] = 0
	}
	s.epoch = 0
	for r := range rows {
		// u_r = the row's cheapest cost keeps every reduced cost >= 0 with v = 0.
		s.u[r] = surgeCost{}
		if a, b := s.start[r], s.start[r+1]; a < b {
			s.u[r].c = s.cost[a]
		}
		s.rowCol[r] = -1
	}
	for r := range rows {
		s.augment(int32(r))
	}
}

// build lays out the lists as compressed rows, keeping local column numbers
// from earlier rounds so that maps and slices are reused.
func (s *surgeSolver) build(ls *surgeLists) {
	if s.colOf == nil {
		s.colOf = make(map[int32]int32)
	}
	s.start = append(s.start[:0], 0)
	s.col = s.col[:0]
	s.cost = s.cost[:0]
	for _, es := range ls.edges {
		for _, e := range es {
			j, ok := s.colOf[e.Worker]
			if !ok {
				j = int32(len(s.colWorker))
				s.colOf[e.Worker] = j
				s.colWorker = append(s.colWorker, e.Worker)
			}
			s.col = append(s.col, j)
			s.cost = append(s.cost, e.Cost)
		}
		s.start = append(s.start, int32(len(s.col)))
	}
}

// augment finds a shortest augmenting path from the free row root to a free
// column or to some tree row's unfilled option, flips it and updates the
// duals of the settled part so that the invariants in the file comment hold.
func (s *surgeSolver) augment(root int32) {
	s.epoch++
	ep := s.epoch
	s.heap = s.heap[:0]
	s.doneRows = s.doneRows[:0]
	s.doneCols = s.doneCols[:0]
	bigM := surgeCost{big: 1}

	bestDummy := bigM.sub(s.u[root]) // root's own unfilled option
	bestRow := root
	s.ub = bestDummy
	s.rowDist[root] = surgeCost{}
	s.doneRows = append(s.doneRows, root)
	s.relax(root, surgeCost{})

	sink := int32(-1)
	var dStar surgeCost
	for {
		var top surgeHeapItem
		found := false
		for len(s.heap) > 0 {
			top = s.heap.pop()
			if s.done[top.col] != ep && top.d == s.dist[top.col] {
				found = true
				break
			}
		}
		// The unfilled option wins only when strictly cheaper, so filling
		// is preferred among equals.
		if !found || surgeLess(bestDummy, top.d) {
			dStar = bestDummy
			break
		}
		j := top.col
		s.done[j] = ep
		s.doneCols = append(s.doneCols, j)
		r := s.colRow[j]
		if r < 0 {
			sink, dStar = j, top.d
			break
		}
		s.rowDist[r] = top.d
		s.doneRows = append(s.doneRows, r)
		if d := top.d.add(bigM).sub(s.u[r]); surgeLess(d, bestDummy) {
			bestDummy, bestRow = d, r
			if surgeLess(d, s.ub) {
				s.ub = d
			}
		}
		s.relax(r, top.d)
	}

	for _, r := range s.doneRows {
		s.u[r] = s.u[r].add(dStar.sub(s.rowDist[r]))
	}
	for _, j := range s.doneCols {
		s.v[j] = s.v[j].sub(dStar.sub(s.dist[j]))
	}

	// Flip the path. With the unfilled option as sink, the path ends at
	// bestRow, which gives up its column to its predecessor.
	var j int32
	if sink >= 0 {
		j = sink
	} else {
		j = s.rowCol[bestRow]
		s.rowCol[bestRow] = surgeUnfilled
		if bestRow == root {
			return
		}
	}
	for {
		r := s.pred[j]
		prev := s.rowCol[r]
		s.rowCol[r] = j
		s.colRow[j] = r
		if r == root {
			return
		}
		j = prev
	}
}

// relax scans row r, reached at distance d, for cheaper paths to columns.
func (s *surgeSolver) relax(r int32, d surgeCost) {
	ur := s.u[r]
	ep := s.epoch
	// Every v is <= 0, so d + cost - u_r bounds the distance from below;
	// with costs ascending, the rest of the row cannot beat s.ub.
	lbBig := d.big - ur.big
	lbC := d.c - ur.c
	for e := s.start[r]; e < s.start[r+1]; e++ {
		if c := lbC + s.cost[e]; lbBig > s.ub.big || (lbBig == s.ub.big && c >= s.ub.c) {
			break
		}
		j := s.col[e]
		if s.done[j] == ep {
			continue
		}
		vj := s.v[j]
		nd := surgeCost{d.c + (s.cost[e] - ur.c - vj.c), d.big - ur.big - vj.big}
		if s.seen[j] != ep || surgeLess(nd, s.dist[j]) {
			s.seen[j] = ep
			s.dist[j] = nd
			s.pred[j] = r
			s.heap.push(surgeHeapItem{d: nd, col: j, worker: s.colWorker[j]})
			if s.colRow[j] < 0 && surgeLess(nd, s.ub) {
				s.ub = nd
			}
		}
	}
}

// certified reports whether row r's dual value proves that no worker past
// its list, all of which cost at least bound, can improve the assignment.
func (s *surgeSolver) certified(r int, bound float64) bool {
	u := s.u[r]
	return u.big < 0 || (u.big == 0 && u.c <= bound+surgeCertTol*max(1, math.Abs(bound)))
}

func (s *surgeSolver) matchedCost(r int) float64 {
	j := s.rowCol[r]
	for e := s.start[r]; e < s.start[r+1]; e++ {
		if s.col[e] == j {
			return s.cost[e]
		}
	}
	return 0
}

type surgeHeapItem struct {
	d      surgeCost
	col    int32
	worker int32 // tie-break: lower worker handle first
}

func surgeHeapLess(a, b surgeHeapItem) bool {
	if a.d != b.d {
		return surgeLess(a.d, b.d)
	}
	return a.worker < b.worker
}

// surgeHeap is a binary min-heap with lazy deletion of stale entries.
type surgeHeap []surgeHeapItem

func (h *surgeHeap) push(it surgeHeapItem) {
	*h = append(*h, it)
	a := *h
	i := len(a) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !surgeHeapLess(a[i], a[p]) {
			break
		}
		a[i], a[p] = a[p], a[i]
		i = p
	}
}

func (h *surgeHeap) pop() surgeHeapItem {
	a := *h
	top := a[0]
	n := len(a) - 1
	a[0] = a[n]
	a = a[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && surgeHeapLess(a[r], a[l]) {
			m = r
		}
		if !surgeHeapLess(a[m], a[i]) {
			break
		}
		a[i], a[m] = a[m], a[i]
		i = m
	}
	*h = a
	return top
}
