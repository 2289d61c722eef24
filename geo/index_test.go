package geo

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

type refWorker struct {
	p Point
	a Attrs
}

// bruteNearest is the reference Nearest must equal: every worker, the same
// tests in the same order, sorted by distance then ID.
func bruteNearest(ref map[ID]refWorker, p Point, k int, f Filter) []Neighbor {
	var all []Neighbor
	for id, w := range ref {
		if !f.Match(w.a) {
			continue
		}
		d := DistanceMeters(p, w.p)
		if f.MaxMeters > 0 && d > f.MaxMeters {
			continue
		}
		if f.Accept != nil && !f.Accept(id) {
			continue
		}
		all = append(all, Neighbor{id, d})
	}
	slices.SortFunc(all, func(a, b Neighbor) int {
		if c := cmp.Compare(a.Meters, b.Meters); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	if k < 0 {
		k = 0
	}
	return all[:min(k, len(all))]
}

// checkInvariants verifies the structure the search's proof rests on.
func checkInvariants(t *testing.T, ix *Index) {
	t.Helper()
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	total, live := 0, 0
	for i := range ix.nodes {
		n := &ix.nodes[i]
		if n.cell == 0 {
			continue
		}
		live++
		ni := int32(i)
		if got, ok := ix.cells[n.cell]; !ok || got != ni {
			t.Fatalf("node %d: cells map gives %d, %v", ni, got, ok)
		}
		k := ix.rec(ni)
		var want *kid
		if n.parent >= 0 {
			want = &ix.rec(n.parent).kids[n.slot]
		} else {
			want = &ix.roots[n.slot]
		}
		if k != want {
			t.Fatalf("node %x: self points away from its record", n.cell)
		}
		if k.idx != ni {
			t.Fatalf("node %x: parent's record at slot %d is %d", n.cell, n.slot, k.idx)
		}
		if n.parent < 0 {
			if n.res() != ix.levels[0] {
				t.Fatalf("root %x: res %d, want %d", n.cell, n.res(), ix.levels[0])
			}
		} else {
			p := &ix.nodes[n.parent]
			pres := ix.levels[slices.Index(ix.levels, n.res())-1]
			if ix.rec(n.parent).kids == nil || p.cell != parentBits(n.cell, pres) || p.res() != pres {
				t.Fatalf("node %x: parent %x is not its H3 parent", n.cell, p.cell)
			}
			checkBall(t, ix.rec(n.parent).c, ix.rec(n.parent).rc, k.c, k.rc)
		}
		var count, avail int32
		if k.kids != nil {
			if len(k.kids) == 0 || len(k.ents) != 0 {
				t.Fatalf("inner %x: %d kids, %d workers", n.cell, len(k.kids), len(k.ents))
			}
			for j, c := range k.kids {
				if ch := &ix.nodes[c.idx]; ch.parent != ni || ch.slot != int32(j) {
					t.Fatalf("inner %x: child %d says parent %d slot %d, want %d %d", n.cell, c.idx, ch.parent, ch.slot, ni, j)
				}
				if c.sum.skills&^k.sum.skills != 0 || c.sum.cert > k.sum.cert {
					t.Fatalf("inner %x: summary %+v does not cover child %+v", n.cell, k.sum, c.sum)
				}
				count += c.sum.count
				avail += c.sum.avail
			}
		} else {
			if len(k.ents) == 0 || n.res() < ix.leafRes() && len(k.ents) > ix.capacity {
				t.Fatalf("leaf %x at res %d: %d workers, capacity %d", n.cell, n.res(), len(k.ents), ix.capacity)
			}
			for j := range k.ents {
				e := &k.ents[j]
				total++
				count++
				if s := ix.loc.get(e.id); s != (slot{ni + 1, int32(j)}) {
					t.Fatalf("worker %d: slot %+v, want %+v", e.id, s, slot{ni + 1, int32(j)})
				}
				if d := math.Sqrt(toVec(e.p).chord2(k.c)); d > k.rc {
					t.Fatalf("worker %d: chord %g outside leaf radius %g", e.id, d, k.rc)
				}
				if e.skills&^k.sum.skills != 0 || e.cert > k.sum.cert {
					t.Fatalf("worker %d: attrs %+v not covered by summary %+v", e.id, e.attrs(), k.sum)
				}
				if e.avail {
					avail++
				}
			}
		}
		if count != k.sum.count || avail != k.sum.avail {
			t.Fatalf("node %x: count %d avail %d, want %d %d", n.cell, k.sum.count, k.sum.avail, count, avail)
		}
	}
	if total != ix.n || live != len(ix.cells) {
		t.Fatalf("got %d workers in %d cells, want Len %d in %d", total, live, ix.n, len(ix.cells))
	}
	for j, r := range ix.roots {
		if n := &ix.nodes[r.idx]; n.parent != -1 || n.slot != int32(j) {
			t.Fatalf("root %d: parent %d slot %d", r.idx, n.parent, n.slot)
		}
	}
}

func checkBall(t *testing.T, pc vec3, prc float64, c vec3, rc float64) {
	t.Helper()
	if need := math.Sqrt(pc.chord2(c)) + rc; prc < need*(1-1e-12) {
		t.Fatalf("parent radius %g does not hold child ball %g", prc, need)
	}
}

// scenario is one randomised comparison with the brute-force reference;
// the table tests and the fuzz seeds share it.
type scenario struct {
	seed    uint64
	kind    uint8 // see genPoint
	n       uint16
	moves   uint16 // random updates before the query
	k       uint16
	q       Point
	skills  uint8
	minCert uint8
	avail   bool
	maxM    float64
	accept  uint8 // 0: no Accept; else reject ids divisible by it
}

const numKinds = 6

// genPoint draws a worker position: 0 uniform over the region, 1 city
// clusters, 2 near res-9 cell edges, 3 a few duplicated positions, 4 a
// 300 m patch, 5 anywhere on Earth.
func genPoint(r *rand.Rand, kind uint8) Point {
	switch kind % numKinds {
	case 0:
		return uniformPoint(r)
	case 1:
		return clusteredPoint(r)
	case 2:
		return edgePoint(r)
	case 3:
		dups := []Point{{39.904, 116.407}, {39.343, 117.362}, {39.9041, 116.4071}, {39.05, 115.87}}
		return dups[r.IntN(len(dups))]
	case 4:
		return moveBy(r, Point{39.904, 116.407}, 300)
	default:
		return Point{Lat: math.Asin(2*r.Float64()-1) / degToRad, Lng: r.Float64()*360 - 180}
	}
}

func (sc scenario) filter() Filter {
	f := Filter{Skills: uint64(sc.skills), MinCert: sc.minCert, OnlyAvailable: sc.avail, MaxMeters: sc.maxM}
	if m := ID(sc.accept); m != 0 {
		f.Accept = func(id ID) bool { return id%m != 0 }
	}
	return f
}

// build fills an index and its reference, then applies random moves,
// removals, attribute changes and re-inserts.
func (sc scenario) build(t *testing.T, ix *Index) map[ID]refWorker {
	r := rand.New(rand.NewPCG(sc.seed, uint64(sc.kind)))
	ref := make(map[ID]refWorker)
	for i := 0; i < int(sc.n); i++ {
		id := ID(r.IntN(int(sc.n)*2 + 1))
		w := refWorker{genPoint(r, sc.kind), randomAttrs(r)}
		if err := ix.Upsert(id, w.p, w.a); err != nil {
			t.Fatal(err)
		}
		ref[id] = w
	}
	ids := make([]ID, 0, len(ref))
	for id := range ref {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for i := 0; i < int(sc.moves) && len(ids) > 0; i++ {
		id := ids[r.IntN(len(ids))]
		w, ok := ref[id]
		switch op := r.IntN(20); {
		case op == 0:
			ix.Remove(id)
			delete(ref, id)
		case op == 1:
			w = refWorker{genPoint(r, sc.kind), randomAttrs(r)}
			if err := ix.Upsert(id, w.p, w.a); err != nil {
				t.Fatal(err)
			}
			ref[id] = w
		case op == 2:
			w.a = randomAttrs(r)
			if got := ix.SetAttrs(id, w.a); got != ok {
				t.Fatalf("SetAttrs(%d): got %v, want %v", id, got, ok)
			}
			if ok {
				ref[id] = w
			}
		default:
			p := moveBy(r, w.p, []float64{5, 50, 400}[r.IntN(3)])
			if op == 3 {
				p = genPoint(r, sc.kind)
			}
			got, err := ix.Move(id, p)
			if err != nil || got != ok {
				t.Fatalf("Move(%d): got %v, %v, want %v, nil", id, got, err, ok)
			}
			if ok {
				w.p = p
				ref[id] = w
			}
		}
	}
	return ref
}

func (sc scenario) check(t *testing.T, ix *Index, ref map[ID]refWorker) {
	t.Helper()
	f := sc.filter()
	got, err := ix.Nearest(sc.q, int(sc.k), f, nil)
	if sc.q.Validate() != nil {
		if !errors.Is(err, ErrInvalidPoint) {
			t.Fatalf("Nearest(%v): got %v, want ErrInvalidPoint", sc.q, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("Nearest(%v): %v", sc.q, err)
	}
	want := bruteNearest(ref, sc.q, int(sc.k), f)
	if !slices.Equal(got, want) {
		t.Fatalf("Nearest(%v, k=%d, %+v):\ngot  %v\nwant %v", sc.q, sc.k, f, got, want)
	}
}

var nearestCases = []struct {
	name string
	sc   scenario
}{
	{"uniform", scenario{seed: 1, kind: 0, n: 500, k: 10, q: Point{39.9, 116.4}}},
	{"city with skill", scenario{seed: 2, kind: 1, n: 2000, moves: 500, k: 10, q: Point{39.904, 116.407}, skills: 1}},
	{"near cell edges", scenario{seed: 3, kind: 2, n: 800, moves: 800, k: 20, q: Point{39.904, 116.407}}},
	{"duplicate positions", scenario{seed: 4, kind: 3, n: 300, k: 25, q: Point{39.904, 116.407}}},
	{"query on a duplicate", scenario{seed: 5, kind: 3, n: 300, k: 7, q: Point{39.9041, 116.4071}, skills: 2}},
	{"k above eligible", scenario{seed: 6, kind: 1, n: 200, k: 1000, q: Point{39, 116}, skills: 3, minCert: 2}},
	{"nobody eligible", scenario{seed: 7, kind: 1, n: 500, k: 10, q: Point{39, 116}, skills: 0, minCert: 200}},
	{"unknown skill", scenario{seed: 7, kind: 0, n: 500, k: 10, q: Point{39, 116}, skills: 0}},
	{"only available", scenario{seed: 8, kind: 4, n: 500, moves: 300, k: 15, q: Point{39.904, 116.407}, avail: true}},
	{"max distance", scenario{seed: 9, kind: 1, n: 1000, k: 50, q: Point{39.343, 117.362}, maxM: 5000}},
	{"max distance excludes all", scenario{seed: 10, kind: 1, n: 1000, k: 5, q: Point{30, 120}, maxM: 1000}},
	{"accept callback", scenario{seed: 11, kind: 1, n: 1000, k: 10, q: Point{39.9, 116.4}, accept: 2}},
	{"far query", scenario{seed: 12, kind: 1, n: 500, k: 3, q: Point{-39.9, -63.6}}},
	{"whole earth", scenario{seed: 13, kind: 5, n: 800, moves: 200, k: 30, q: Point{80, -170}}},
	{"empty index", scenario{seed: 14, kind: 0, n: 0, k: 3, q: Point{39.9, 116.4}}},
	{"k zero", scenario{seed: 15, kind: 0, n: 50, k: 0, q: Point{39.9, 116.4}}},
	{"invalid query", scenario{seed: 16, kind: 0, n: 50, k: 1, q: Point{math.NaN(), 116.4}}},
}

func TestNearestTable(t *testing.T) {
	for _, tc := range nearestCases {
		t.Run(tc.name, func(t *testing.T) {
			ix := NewIndex()
			ref := tc.sc.build(t, ix)
			checkInvariants(t, ix)
			tc.sc.check(t, ix, ref)
		})
	}
}

// TestNearestMatchesBruteForce is the property: for random data of every
// kind, random updates, filters, k and query points, Nearest equals the
// brute-force scan, on the default and on other resolution ladders.
func TestNearestMatchesBruteForce(t *testing.T) {
	seeds, queries, maxN := 6, 100, 2000
	if testing.Short() {
		seeds, queries, maxN = 4, 60, 1000
	}
	shapes := []struct {
		levels   []int
		capacity int
	}{
		{nil, 0},                        // the default
		{[]int{0, 1, 2, 3, 4, 5, 6}, 3}, // deep splits at tiny capacity
		{[]int{3, 5, 7, 9}, 12},         // skipping resolutions
		{[]int{5, 8, 12}, 1},            // every worker alone where it can be
		{[]int{1}, 8},                   // one level: roots are leaves
	}
	for _, sh := range shapes {
		for kind := uint8(0); kind < numKinds; kind++ {
			for seed := uint64(1); seed <= uint64(seeds); seed++ {
				name := fmt.Sprintf("shape=%v/kind=%d/seed=%d", sh, kind, seed)
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					r := rand.New(rand.NewPCG(seed, 99))
					base := scenario{seed: seed, kind: kind, n: uint16(r.IntN(maxN)), moves: uint16(r.IntN(maxN))}
					ix := NewIndex()
					if sh.levels != nil {
						ix = newIndexLevels(sh.levels, sh.capacity)
					}
					ref := base.build(t, ix)
					checkInvariants(t, ix)
					for range queries {
						sc := base
						sc.q = genPoint(r, kind)
						if r.IntN(10) == 0 {
							sc.q = genPoint(r, 5)
						}
						if r.IntN(10) == 0 && len(ref) > 0 {
							for _, w := range ref {
								sc.q = w.p // exactly on a worker
								break
							}
						}
						sc.k = uint16([]int{1, 2, 10, 10, 33, int(base.n) + 5}[r.IntN(6)])
						sc.skills = uint8(r.Uint32() & r.Uint32() & 0xff)
						sc.minCert = uint8(r.IntN(5))
						sc.avail = r.IntN(2) == 0
						sc.maxM = []float64{0, 0, 50, 2000, 1e5, math.Inf(1)}[r.IntN(6)]
						sc.accept = uint8(r.IntN(4))
						sc.check(t, ix, ref)
					}
				})
			}
		}
	}
}

func FuzzNearest(f *testing.F) {
	for _, tc := range nearestCases {
		sc := tc.sc
		f.Add(sc.seed, sc.kind, sc.n%700, sc.moves, sc.k, sc.q.Lat, sc.q.Lng, sc.skills, sc.minCert, sc.avail, sc.maxM, sc.accept)
	}
	f.Fuzz(func(t *testing.T, seed uint64, kind uint8, n, moves, k uint16, lat, lng float64,
		skills, minCert uint8, avail bool, maxM float64, accept uint8) {
		sc := scenario{seed: seed, kind: kind, n: n % 700, moves: moves % 700, k: k, q: Point{lat, lng},
			skills: skills, minCert: minCert, avail: avail, maxM: maxM, accept: accept}
		ix := NewIndex()
		ref := sc.build(t, ix)
		sc.check(t, ix, ref)
		checkInvariants(t, ix)
	})
}

// TestMovesStayExact walks workers in small steps across many cell edges,
// with and without the in-place path, in a small-capacity tree that splits
// and merges as they go: the structure must stay sound and queries exact.
func TestMovesStayExact(t *testing.T) {
	r := rand.New(rand.NewPCG(42, 42))
	for _, alwaysCell := range []bool{false, true} {
		t.Run(fmt.Sprintf("alwaysCell=%v", alwaysCell), func(t *testing.T) {
			ix := newIndex(defaultTopRes, defaultLeafRes, 8)
			ix.alwaysCell = alwaysCell
			ref := make(map[ID]refWorker)
			for id := ID(0); id < 300; id++ {
				w := refWorker{edgePoint(r), randomAttrs(r)}
				ref[id] = w
				if err := ix.Upsert(id, w.p, w.a); err != nil {
					t.Fatal(err)
				}
			}
			for round := range 40 {
				for id, w := range ref {
					w.p = moveBy(r, w.p, []float64{0.5, 5, 50}[r.IntN(3)])
					ref[id] = w
					if ok, err := ix.Move(id, w.p); !ok || err != nil {
						t.Fatalf("Move(%d): got %v, %v, want true, nil", id, ok, err)
					}
				}
				checkInvariants(t, ix)
				q := edgePoint(r)
				got, _ := ix.Nearest(q, 10, Filter{}, nil)
				if want := bruteNearest(ref, q, 10, Filter{}); !slices.Equal(got, want) {
					t.Fatalf("round %d: got %v, want %v", round, got, want)
				}
			}
		})
	}
}

// TestCellGeom checks the two radii that the search (outer) and
// CountByCell (inner) rely on, on cells near Beijing and across the globe:
// every point on the inner circle lies in the cell, every vertex inside
// the outer one.
func TestCellGeom(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for i := range 300 {
		p := clusteredPoint(r)
		if i%3 == 0 {
			p = genPoint(r, 5)
		}
		for _, res := range []int{7, 9, 10} {
			cell := latLngToCell(p, res)
			g := geomOf(cell)
			if g.inner <= 0 || g.inner >= g.outer {
				t.Fatalf("cell %x: inner %g outer %g, want 0 < inner < outer", cell, g.inner, g.outer)
			}
			for _, v := range Cell(cell).Boundary() {
				if d := math.Sqrt(toVec(v).chord2(g.c)); d > g.outer {
					t.Fatalf("cell %x: vertex at chord %g, want <= outer %g", cell, d, g.outer)
				}
			}
			// Points on the inner circle itself, in every direction.
			inArc := 2 * math.Asin(g.inner/2)
			ctr := Cell(cell).Center()
			for j := range 24 {
				q := destination(ctr, float64(j)*15+r.Float64(), inArc*EarthRadiusMeters)
				if c := latLngToCell(q, res); c != cell {
					t.Fatalf("cell %x: point %v on the inner circle maps to %x", cell, q, c)
				}
			}
		}
	}
}

// destination is the point at distance m metres from p along bearing deg.
func destination(p Point, deg, m float64) Point {
	a := m / EarthRadiusMeters
	b := deg * degToRad
	lat1, lng1 := p.Lat*degToRad, p.Lng*degToRad
	lat2 := math.Asin(math.Sin(lat1)*math.Cos(a) + math.Cos(lat1)*math.Sin(a)*math.Cos(b))
	lng2 := lng1 + math.Atan2(math.Sin(b)*math.Sin(a)*math.Cos(lat1), math.Cos(a)-math.Sin(lat1)*math.Sin(lat2))
	lng2 = math.Remainder(lng2, 2*math.Pi)
	return Point{Lat: lat2 / degToRad, Lng: lng2 / degToRad}
}

func TestIndexOperations(t *testing.T) {
	bj, tj := Point{39.904, 116.407}, Point{39.343, 117.362}
	a := Attrs{Skills: 0b101, Cert: 2, Available: true}
	ix := NewIndex()
	steps := []struct {
		name string
		do   func() (any, any)
	}{
		{"get unknown", func() (any, any) { _, _, ok := ix.Get(1); return ok, false }},
		{"move unknown", func() (any, any) { ok, err := ix.Move(1, bj); return fmt.Sprint(ok, err), "false <nil>" }},
		{"set attrs unknown", func() (any, any) { return ix.SetAttrs(1, a), false }},
		{"upsert", func() (any, any) { return ix.Upsert(1, bj, a), error(nil) }},
		{"len after upsert", func() (any, any) { return ix.Len(), 1 }},
		{"get", func() (any, any) { p, got, ok := ix.Get(1); return fmt.Sprint(p, got, ok), fmt.Sprint(bj, a, true) }},
		{"move far", func() (any, any) { ok, err := ix.Move(1, tj); return fmt.Sprint(ok, err), "true <nil>" }},
		{"get after move", func() (any, any) { p, _, _ := ix.Get(1); return p, tj }},
		{"set attrs", func() (any, any) { return ix.SetAttrs(1, Attrs{Cert: 3}), true }},
		{"get attrs", func() (any, any) { _, got, _ := ix.Get(1); return got, Attrs{Cert: 3} }},
		{"upsert again replaces", func() (any, any) {
			ix.Upsert(1, bj, a)
			p, got, _ := ix.Get(1)
			return fmt.Sprint(p, got), fmt.Sprint(bj, a)
		}},
		{"len after replace", func() (any, any) { return ix.Len(), 1 }},
		{"huge sparse id", func() (any, any) { return ix.Upsert(math.MaxUint32, tj, a), error(nil) }},
		{"nearest both", func() (any, any) {
			got, _ := ix.Nearest(bj, 5, Filter{}, nil)
			return fmt.Sprint(got), fmt.Sprint([]Neighbor{{1, 0}, {math.MaxUint32, DistanceMeters(bj, tj)}})
		}},
		{"nearest appends to dst", func() (any, any) {
			got, _ := ix.Nearest(bj, 1, Filter{}, []Neighbor{{7, 7}})
			return fmt.Sprint(got), fmt.Sprint([]Neighbor{{7, 7}, {1, 0}})
		}},
		{"remove", func() (any, any) { ix.Remove(1); ix.Remove(1); return ix.Len(), 1 }},
		{"get removed", func() (any, any) { _, _, ok := ix.Get(1); return ok, false }},
		{"remove last", func() (any, any) { ix.Remove(math.MaxUint32); return fmt.Sprint(ix.Len(), len(ix.roots)), "0 0" }},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if got, want := s.do(); got != want {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
	checkInvariants(t, ix)
}

// TestConcurrentUse runs writers and readers together; with -race it
// proves the locking, and the final state must still be exact.
func TestConcurrentUse(t *testing.T) {
	ix := NewIndex()
	const writers, perWriter = 4, 200
	var wg sync.WaitGroup
	refs := make([]map[ID]refWorker, writers)
	for w := range writers {
		refs[w] = make(map[ID]refWorker)
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for i := range perWriter * 5 {
				id := ID(w*perWriter + i%perWriter) // each writer owns its ids
				wk := refWorker{clusteredPoint(r), randomAttrs(r)}
				if old, ok := refs[w][id]; ok && i%3 != 0 {
					wk = refWorker{moveBy(r, old.p, 100), old.a}
					ix.Move(id, wk.p)
				} else {
					ix.Upsert(id, wk.p, wk.a)
				}
				refs[w][id] = wk
				if i%7 == 0 {
					ix.Remove(id)
					delete(refs[w], id)
				}
			}
		}()
	}
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(9, 9))
			var buf []Neighbor
			for range 300 {
				buf, _ = ix.Nearest(clusteredPoint(r), 10, Filter{Skills: 1}, buf[:0])
				ix.CountByCell(5, Filter{})
				ix.Len()
			}
		}()
	}
	wg.Wait()
	ref := make(map[ID]refWorker)
	for _, m := range refs {
		for id, w := range m {
			ref[id] = w
		}
	}
	checkInvariants(t, ix)
	for _, q := range []Point{{39.9, 116.4}, {39.3, 117.3}, {38, 114.5}} {
		got, _ := ix.Nearest(q, 20, Filter{}, nil)
		if want := bruteNearest(ref, q, 20, Filter{}); !slices.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

// TestAcceptCalledOnlyForCandidates checks the documented contract: Accept
// sees only workers that passed the other tests, and far fewer than all.
func TestAcceptCalledOnlyForCandidates(t *testing.T) {
	ix := NewIndex()
	r := rand.New(rand.NewPCG(3, 3))
	attrs := make(map[ID]Attrs)
	for id := range ID(2000) {
		attrs[id] = randomAttrs(r)
		ix.Upsert(id, clusteredPoint(r), attrs[id])
	}
	calls := 0
	f := Filter{Skills: 0b11}
	f.Accept = func(id ID) bool {
		calls++
		if !f.Match(attrs[id]) {
			t.Errorf("Accept(%d) called for a worker failing the filter", id)
		}
		return id%2 == 0
	}
	got, _ := ix.Nearest(Point{39.9, 116.4}, 5, f, nil)
	if len(got) != 5 {
		t.Fatalf("got %d results, want 5", len(got))
	}
	if calls > 200 {
		t.Errorf("got %d Accept calls, want far fewer than the 2000 workers", calls)
	}
}

// TestHavLowerBound checks the cheap bound against the exact haversine term
// over short, long, polar and antimeridian pairs.
func TestHavLowerBound(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 11))
	for i := range 200_000 {
		a := genPoint(r, 5)
		var b Point
		switch i % 4 {
		case 0:
			b = genPoint(r, 5)
		case 1:
			b = moveBy(r, a, 1000)
		case 2:
			b = Point{Lat: a.Lat + r.NormFloat64()*1e-4, Lng: -a.Lng}
		default:
			b = Point{Lat: math.Copysign(90-r.Float64()*1e-3, a.Lat), Lng: r.Float64()*360 - 180}
		}
		s := searcher{o: newOrigin(a)}
		s.sinLat = math.Abs(s.o.sinLat)
		lb := s.havLowerBound(b)
		exact := s.o.hav(b)
		if lb > exact*(1+1e-12)+1e-300 {
			t.Fatalf("%v to %v: got bound %g, want <= exact %g", a, b, lb, exact)
		}
	}
}

// TestTiesAfterRounding covers what random data almost never produces: two
// workers with different haversine terms but the same distance once
// rounded. Brute force ranks them by ID, so must Nearest.
func TestTiesAfterRounding(t *testing.T) {
	h1 := 1e-6
	for metersOf(h1) != metersOf(math.Nextafter(h1, 1)) {
		h1 = math.Nextafter(h1, 1)
	}
	h2 := math.Nextafter(h1, 1)
	tests := []struct {
		name string
		hits []hit
		k    int
		want []Neighbor
	}{
		{"smaller term, larger id first", []hit{{h1, 2}, {h2, 1}}, 1, []Neighbor{{1, metersOf(h1)}}},
		{"larger term first", []hit{{h2, 1}, {h1, 2}}, 1, []Neighbor{{1, metersOf(h1)}}},
		{"both kept", []hit{{h1, 2}, {h2, 1}}, 2, []Neighbor{{1, metersOf(h1)}, {2, metersOf(h1)}}},
		{"beyond the band dropped", []hit{{h1, 2}, {h1 * 1.01, 1}}, 1, []Neighbor{{2, metersOf(h1)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &searcher{k: tt.k, band: math.Inf(1), limit: math.Inf(1), limLo: math.Inf(1), limHi: math.Inf(1)}
			for _, x := range tt.hits {
				s.offer(x)
			}
			if got := s.appendResult(nil); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
