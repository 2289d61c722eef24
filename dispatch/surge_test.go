package dispatch

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// surgeInstance is a small assignment problem given as full edge lists.
type surgeInstance struct {
	workers int
	edges   [][]SurgeEdge // per row; a worker listed twice counts at its lower cost
}

// gen serves each row's k cheapest edges in ascending cost, the way the
// engine's nearest-k query does. tieHigh lists equal costs by descending
// worker, so the solver cannot lean on the generator's tie order.
func (in surgeInstance) gen(tieHigh bool) func(row, k int) []SurgeEdge {
	sorted := make([][]SurgeEdge, len(in.edges))
	for r, es := range in.edges {
		sorted[r] = slices.Clone(es)
		slices.SortFunc(sorted[r], func(a, b SurgeEdge) int {
			if tieHigh {
				return cmp.Or(cmp.Compare(a.Cost, b.Cost), cmp.Compare(b.Worker, a.Worker))
			}
			return cmp.Or(cmp.Compare(a.Cost, b.Cost), cmp.Compare(a.Worker, b.Worker))
		})
	}
	var buf []SurgeEdge // reused on purpose: the solver must copy
	return func(row, k int) []SurgeEdge {
		es := sorted[row]
		buf = append(buf[:0], es[:min(k, len(es))]...)
		return buf
	}
}

// surgeBrute is the exhaustive optimum: dynamic programming over the subsets
// of used workers, most filled rows first, then least cost.
func surgeBrute(in surgeInstance) (filled int, total float64) {
	type best struct {
		filled int
		cost   float64
		ok     bool
	}
	better := func(a, b best) bool {
		return !b.ok || a.filled > b.filled || (a.filled == b.filled && a.cost < b.cost)
	}
	states := 1 << in.workers
	cur := make([]best, states)
	cur[0] = best{ok: true}
	for _, es := range in.edges {
		next := make([]best, states)
		for mask, b := range cur {
			if !b.ok {
				continue
			}
			if better(b, next[mask]) {
				next[mask] = b // row stays unfilled
			}
			for _, e := range es {
				bit := 1 << e.Worker
				if mask&bit != 0 {
					continue
				}
				nb := best{b.filled + 1, b.cost + e.Cost, true}
				if better(nb, next[mask|bit]) {
					next[mask|bit] = nb
				}
			}
		}
		cur = next
	}
	var all best
	for _, b := range cur {
		if b.ok && better(b, all) {
			all = b
		}
	}
	return all.filled, all.cost
}

// surgeGreedyRef is the first-come baseline written the obvious way.
func surgeGreedyRef(in surgeInstance) (filled int, total float64) {
	taken := make(map[int32]bool)
	for _, es := range in.edges {
		best := -1
		for i, e := range es {
			if taken[e.Worker] {
				continue
			}
			if best < 0 || surgeEdgeCompare(e, es[best]) < 0 {
				best = i
			}
		}
		if best >= 0 {
			taken[es[best].Worker] = true
			filled++
			total += es[best].Cost
		}
	}
	return filled, total
}

func randomSurgeInstance(rng *rand.Rand) surgeInstance {
	in := surgeInstance{workers: 1 + rng.IntN(9)}
	rows := 1 + rng.IntN(7)
	density := 0.1 + 0.9*rng.Float64()
	mode := rng.IntN(3)
	dup := rng.IntN(6) == 0 // a worker listed twice counts at its lower cost
	for range rows {
		var es []SurgeEdge
		if rng.IntN(8) != 0 { // some rows have no edge at all
			for w := range in.workers {
				if rng.Float64() >= density {
					continue
				}
				var c float64
				switch mode {
				case 0: // few distinct values: many ties
					c = float64(rng.IntN(4))
				case 1: // negatives are allowed, e.g. as preferences
					c = float64(rng.IntN(9)) - 3
				default:
					c = math.Round(rng.Float64()*1e6) / 1e3
				}
				es = append(es, SurgeEdge{Worker: int32(w), Cost: c})
			}
		}
		if dup {
			for _, e := range es {
				if rng.IntN(3) == 0 {
					es = append(es, SurgeEdge{Worker: e.Worker, Cost: e.Cost + float64(rng.IntN(3))})
				}
			}
		}
		in.edges = append(in.edges, es)
	}
	return in
}

// checkSurgeResult checks that res is a valid assignment of in whose filled
// count and total equal the exhaustive optimum.
func checkSurgeResult(t *testing.T, in surgeInstance, res SurgeResult) {
	t.Helper()
	if len(res.Assign) != len(in.edges) {
		t.Fatalf("len(Assign) = %d, want %d", len(res.Assign), len(in.edges))
	}
	used := make(map[int32]int)
	filled, total := 0, 0.0
	for r, w := range res.Assign {
		if w < 0 {
			if w != -1 {
				t.Fatalf("row %d: Assign = %d, want a worker or -1", r, w)
			}
			continue
		}
		if prev, ok := used[w]; ok {
			t.Fatalf("worker %d assigned to rows %d and %d", w, prev, r)
		}
		used[w] = r
		c := math.Inf(1)
		for _, e := range in.edges[r] {
			if e.Worker == w {
				c = min(c, e.Cost)
			}
		}
		if math.IsInf(c, 1) {
			t.Fatalf("row %d: assigned worker %d without an edge", r, w)
		}
		filled++
		total += c
	}
	if filled != res.Filled || math.Abs(total-res.Total) > 1e-9 {
		t.Fatalf("Filled, Total = %d, %v; the assignment gives %d, %v", res.Filled, res.Total, filled, total)
	}
	wf, wt := surgeBrute(in)
	if res.Filled != wf || math.Abs(res.Total-wt) > 1e-9*max(1, math.Abs(wt)) {
		t.Fatalf("got filled %d total %v, want %d %v (exhaustive)\ninstance %+v", res.Filled, res.Total, wf, wt, in)
	}
}

func TestSurgeMatchesExhaustive(t *testing.T) {
	const instances = 4000
	rng := rand.New(rand.NewPCG(1, 2))
	var optTotal, greedyTotal float64
	var optFilled, greedyFilled, greedyWorse, widened, rounds int
	for i := range instances {
		in := randomSurgeInstance(rng)
		rows := len(in.edges)

		full := surgeSolve(rows, in.gen(false), 1<<20)
		checkSurgeResult(t, in, full)
		if full.Rounds != 1 {
			t.Fatalf("instance %d: complete lists took %d rounds, want 1", i, full.Rounds)
		}
		for _, startK := range []int{1, 2} {
			for _, tieHigh := range []bool{false, true} {
				res := surgeSolve(rows, in.gen(tieHigh), startK)
				checkSurgeResult(t, in, res)
				rounds += res.Rounds
				if res.Rounds > 1 {
					widened++
				}
			}
		}

		gf, gt := surgeGreedyRef(in)
		if full.GreedyFilled != gf || math.Abs(full.GreedyTotal-gt) > 1e-9 {
			t.Fatalf("instance %d: greedy got %d %v, want %d %v", i, full.GreedyFilled, full.GreedyTotal, gf, gt)
		}
		ga, gtot, gfill := GreedySurge(rows, in.gen(false))
		if gfill != gf || math.Abs(gtot-gt) > 1e-9 || len(ga) != rows {
			t.Fatalf("instance %d: GreedySurge got %d %v, want %d %v", i, gfill, gtot, gf, gt)
		}
		if gf > full.Filled || (gf == full.Filled && gt < full.Total-1e-9) {
			t.Fatalf("instance %d: greedy (%d, %v) beats the optimum (%d, %v)", i, gf, gt, full.Filled, full.Total)
		}
		if gf < full.Filled || gt > full.Total+1e-9 {
			greedyWorse++
		}
		optTotal += full.Total
		optFilled += full.Filled
		greedyTotal += gt
		greedyFilled += gf
	}
	if widened == 0 {
		t.Fatalf("no run widened a candidate list; the certificate path is untested")
	}
	t.Logf("%d instances: optimum filled %d total %.3f; greedy filled %d total %.3f; greedy worse on %d",
		instances, optFilled, optTotal, greedyFilled, greedyTotal, greedyWorse)
	t.Logf("small-k runs: %d of %d widened, %d rounds in all", widened, 4*instances, rounds)
}

func TestSurgeEdgeCases(t *testing.T) {
	e := func(w int32, c float64) SurgeEdge { return SurgeEdge{Worker: w, Cost: c} }
	tests := []struct {
		name       string
		in         surgeInstance
		wantAssign []int32 // nil: any optimal assignment
	}{
		{name: "zero rows", in: surgeInstance{workers: 3}, wantAssign: []int32{}},
		{name: "zero edges", in: surgeInstance{workers: 3, edges: [][]SurgeEdge{nil, nil, nil}}, wantAssign: []int32{-1, -1, -1}},
		{
			name:       "all compete for one worker",
			in:         surgeInstance{workers: 8, edges: [][]SurgeEdge{{e(7, 5)}, {e(7, 3)}, {e(7, 9)}, {e(7, 4)}}},
			wantAssign: []int32{-1, 7, -1, -1},
		},
		{
			name: "identical costs take lower workers",
			in: surgeInstance{workers: 3, edges: [][]SurgeEdge{
				{e(0, 1), e(1, 1), e(2, 1)},
				{e(0, 1), e(1, 1), e(2, 1)},
				{e(0, 1), e(1, 1), e(2, 1)},
			}},
			wantAssign: []int32{0, 1, 2},
		},
		{
			name: "filling beats cost",
			in: surgeInstance{workers: 2, edges: [][]SurgeEdge{
				{e(0, 1), e(1, 100)},
				{e(0, 1)},
			}},
			wantAssign: []int32{1, 0},
		},
		{
			name: "greedy trap",
			in: surgeInstance{workers: 2, edges: [][]SurgeEdge{
				{e(0, 1), e(1, 2)},
				{e(0, 1), e(1, 10)},
			}},
			wantAssign: []int32{1, 0},
		},
		{
			name: "more rows than workers",
			in: surgeInstance{workers: 2, edges: [][]SurgeEdge{
				{e(0, 4), e(1, 4)}, {e(0, 1), e(1, 9)}, {e(0, 2), e(1, 3)}, {},
			}},
			wantAssign: []int32{-1, 0, 1, -1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := len(tt.in.edges)
			for _, startK := range []int{1, surgeStartK} {
				res := surgeSolve(rows, tt.in.gen(false), startK)
				if rows > 0 {
					checkSurgeResult(t, tt.in, res)
				}
				if tt.wantAssign != nil && !slices.Equal(res.Assign, tt.wantAssign) {
					t.Errorf("startK %d: Assign = %v, want %v", startK, res.Assign, tt.wantAssign)
				}
			}
			res := SolveSurge(rows, tt.in.gen(false))
			if len(res.Assign) != rows {
				t.Errorf("SolveSurge: len(Assign) = %d, want %d", len(res.Assign), rows)
			}
		})
	}
}

func TestSurgeNegativeRows(t *testing.T) {
	res := SolveSurge(-1, nil)
	if len(res.Assign) != 0 || res.Filled != 0 || res.Rounds != 0 {
		t.Errorf("SolveSurge(-1) = %+v, want an empty result", res)
	}
	if a, total, filled := GreedySurge(0, nil); len(a) != 0 || total != 0 || filled != 0 {
		t.Errorf("GreedySurge(0) = %v, %v, %v, want empty", a, total, filled)
	}
}

// A generator that breaks the ordering contract in harmless ways, lists a
// worker twice or returns unusable edges still gets the right answer.
func TestSurgeUntidyCandidates(t *testing.T) {
	lists := [][]SurgeEdge{
		{{Worker: 2, Cost: 5}, {Worker: 1, Cost: 3}, {Worker: 2, Cost: 1}},
		{{Worker: 1, Cost: math.NaN()}, {Worker: -4, Cost: 0}, {Worker: 2, Cost: 2}, {Worker: 3, Cost: math.Inf(1)}},
	}
	res := SolveSurge(len(lists), func(row, k int) []SurgeEdge { return lists[row] })
	want := []int32{1, 2}
	if !slices.Equal(res.Assign, want) || res.Total != 5 {
		t.Errorf("got %v total %v, want %v total 5", res.Assign, res.Total, want)
	}
}

func TestSurgeDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for range 200 {
		in := randomSurgeInstance(rng)
		a := surgeSolve(len(in.edges), in.gen(false), 1)
		b := surgeSolve(len(in.edges), in.gen(false), 1)
		if !slices.Equal(a.Assign, b.Assign) {
			t.Fatalf("two runs: %v and %v", a.Assign, b.Assign)
		}
	}
}

// surgeDecode reads a small instance: rows, workers, start k, then one byte
// per (row, worker) pair, low values meaning no edge.
func surgeDecode(data []byte) (surgeInstance, int) {
	at := func(i int) byte {
		if i < len(data) {
			return data[i]
		}
		return 0
	}
	rows := 1 + int(at(0))%7
	in := surgeInstance{workers: 1 + int(at(1))%9}
	startK := 1 + int(at(2))%4
	i := 3
	for range rows {
		var es []SurgeEdge
		for w := range in.workers {
			b := at(i)
			i++
			if b < 96 {
				continue
			}
			es = append(es, SurgeEdge{Worker: int32(w), Cost: float64(b%13) - 2})
		}
		in.edges = append(in.edges, es)
	}
	return in, startK
}

func FuzzSolveSurge(f *testing.F) {
	f.Add([]byte{3, 0, 0, 200, 200, 200})
	f.Add([]byte{2, 1, 1, 100, 250, 100, 0})
	f.Add([]byte{6, 8, 2, 96, 97, 98, 99, 100, 255, 254, 200, 150, 120, 110, 96, 97})
	f.Fuzz(func(t *testing.T, data []byte) {
		in, startK := surgeDecode(data)
		checkSurgeResult(t, in, surgeSolve(len(in.edges), in.gen(len(data)%2 == 1), startK))
	})
}

// At sizes past the exhaustive solver, lists grown by the certificate must
// give the same optimum as complete lists: planar instances with scarce
// skills, so that some rows stay unfilled and widen the rows they compete
// with.
func TestSurgeCertificateAtScale(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 9))
	rounds := make(map[int]int)
	short := 0
	for i := range 40 {
		rows, workers := 20+rng.IntN(150), 10+rng.IntN(300)
		type pt struct{ x, y float64 }
		wp := make([]pt, workers)
		wskill := make([]int, workers)
		for w := range wp {
			wp[w] = pt{rng.Float64(), rng.Float64()}
			wskill[w] = rng.IntN(4)
		}
		in := surgeInstance{workers: workers}
		for range rows {
			p, skill := pt{rng.Float64(), rng.Float64()}, rng.IntN(4)
			var es []SurgeEdge
			for w, q := range wp {
				if wskill[w] == skill {
					es = append(es, SurgeEdge{Worker: int32(w), Cost: math.Hypot(p.x-q.x, p.y-q.y)})
				}
			}
			in.edges = append(in.edges, es)
		}
		want := surgeSolve(rows, in.gen(false), 1<<20)
		for _, startK := range []int{1, 4, 16} {
			got := surgeSolve(rows, in.gen(false), startK)
			if got.Filled != want.Filled || math.Abs(got.Total-want.Total) > 1e-9*max(1, want.Total) {
				t.Fatalf("instance %d, start k %d: got filled %d total %v, want %d %v",
					i, startK, got.Filled, got.Total, want.Filled, want.Total)
			}
			rounds[startK] += got.Rounds
		}
		if want.Filled < rows {
			short++
		}
	}
	if short == 0 {
		t.Fatalf("every instance was fully filled; the unfilled path is untested")
	}
	t.Logf("40 instances, %d with unfilled rows; rounds by start k: %v", short, rounds)
}

// surgeFlowRef is an independent reference for sizes past the exhaustive
// solver: minimum-cost maximum flow by successive shortest paths found with
// Bellman–Ford, which needs no potentials and accepts negative costs.
func surgeFlowRef(in surgeInstance) (filled int, total float64) {
	rows := len(in.edges)
	n := rows + in.workers + 2
	src, dst := n-2, n-1
	type arc struct {
		to, rev int
		cap     int
		cost    float64
	}
	g := make([][]arc, n)
	add := func(a, b int, c float64) {
		g[a] = append(g[a], arc{b, len(g[b]), 1, c})
		g[b] = append(g[b], arc{a, len(g[a]) - 1, 0, -c})
	}
	for r, es := range in.edges {
		add(src, r, 0)
		for _, e := range es {
			add(r, rows+int(e.Worker), e.Cost)
		}
	}
	for w := range in.workers {
		add(rows+w, dst, 0)
	}
	for {
		dist := make([]float64, n)
		for i := range dist {
			dist[i] = math.Inf(1)
		}
		type hop struct{ node, arc int }
		prev := make([]hop, n)
		dist[src] = 0
		for changed := true; changed; {
			changed = false
			for a := range n {
				if math.IsInf(dist[a], 1) {
					continue
				}
				for i, e := range g[a] {
					if e.cap > 0 && dist[a]+e.cost < dist[e.to]-1e-12 {
						dist[e.to] = dist[a] + e.cost
						prev[e.to] = hop{a, i}
						changed = true
					}
				}
			}
		}
		if math.IsInf(dist[dst], 1) {
			return filled, total
		}
		for v := dst; v != src; v = prev[v].node {
			e := &g[prev[v].node][prev[v].arc]
			e.cap--
			g[v][e.rev].cap++
		}
		filled++
		total += dist[dst]
	}
}

func TestSurgeMatchesFlowReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 5))
	for i := range 400 {
		in := surgeInstance{workers: 1 + rng.IntN(80)}
		rows := 1 + rng.IntN(60)
		density := 0.02 + 0.5*rng.Float64()
		for range rows {
			var es []SurgeEdge
			for w := range in.workers {
				if rng.Float64() < density {
					es = append(es, SurgeEdge{Worker: int32(w), Cost: float64(rng.IntN(20)) - 2})
				}
			}
			in.edges = append(in.edges, es)
		}
		wf, wt := surgeFlowRef(in)
		for _, startK := range []int{1, 3, 1 << 20} {
			got := surgeSolve(rows, in.gen(i%2 == 0), startK)
			if got.Filled != wf || math.Abs(got.Total-wt) > 1e-9*max(1, math.Abs(wt)) {
				t.Fatalf("instance %d, start k %d: got filled %d total %v, want %d %v",
					i, startK, got.Filled, got.Total, wf, wt)
			}
		}
	}
}
