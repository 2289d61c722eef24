package geo

import (
	"math"
	"sync"
)

// ID is a dense worker handle; the dispatch layer maps its string ids to
// these so that the index stays small.
type ID uint32

// Attrs are the properties a query can filter on without leaving the index.
type Attrs struct {
	Skills    uint64 // bit i set: has skill i
	Cert      uint8  // certification level, higher is more
	Available bool   // on duty and free
}

// Filter selects workers for Nearest. The zero Filter accepts everyone.
type Filter struct {
	Skills        uint64  // every bit set here must be set in Attrs.Skills
	MinCert       uint8   // Attrs.Cert must be at least this
	OnlyAvailable bool    // Attrs.Available must be true
	MaxMeters     float64 // 0 means no limit; otherwise distance <= MaxMeters

	// Accept is an optional extra check, called last and only for workers
	// that would otherwise enter the result (or tie with its last), so it
	// may be called for far fewer workers than pass the other tests. It runs under the index's read
	// lock: it must not call back into the Index (a writer waiting for the
	// lock would deadlock it) and should be quick.
	Accept func(ID) bool
}

// Match reports whether a worker with attributes a passes f's attribute tests
// (not MaxMeters, not Accept).
func (f *Filter) Match(a Attrs) bool {
	return a.Skills&f.Skills == f.Skills && a.Cert >= f.MinCert && (!f.OnlyAvailable || a.Available)
}

func (f *Filter) matchEntry(e *entry) bool {
	return e.skills&f.Skills == f.Skills && e.cert >= f.MinCert && (!f.OnlyAvailable || e.avail)
}

// mayMatch reports whether some worker under a node with summary s could
// pass f. Summaries over-approximate, so false is a proof of absence.
func (f *Filter) mayMatch(s *summary) bool {
	return s.skills&f.Skills == f.Skills && s.cert >= f.MinCert && (!f.OnlyAvailable || s.avail > 0)
}

// Neighbor is one result of Nearest.
type Neighbor struct {
	ID     ID
	Meters float64
}

// Index holds worker positions in a tree of H3 cells (see tree.go) and
// answers nearest-k queries (see Nearest). It is safe for concurrent use
// with one RWMutex: a query holds the read lock for microseconds, an
// update the write lock for less. An update that needs h3 calls it outside
// the lock; only creating or splitting a cell calls h3 under it.
// BenchmarkNearestUnderUpdates and BenchmarkNearestParallel measure what
// readers pay; sharding would split every query across locks.
//
// Shape. Cells range from resolution 2 (about 87,000 km²; some 110 cover
// China, so every query can weigh all roots) down to resolution 10 (about
// 0.015 km², 66 m edges) and split above 128 workers. Chosen with
// BenchmarkShapes and interleaved runs on city-clustered data at 1.5M
// workers (BENCHMARKS.md): capacity 32 and 64 cost 64 and 55 bytes per
// worker and open more cells per query (p50 about 10 and 9 µs against 8
// at 128); 192 and 256 save 2 bytes more but scan more workers per leaf
// and lose at p99. Leaves at resolution 9 leave the densest downtown cells
// over capacity (they cannot split); 11 gains nothing over 10. Skipping
// resolutions (fan-out 49) weighs three times the children per query.
// The first design, fixed leaves at resolution 9 under parents at 7, 5
// and 3, needed about 100 bytes per worker at 1.5M: rural workers sit
// alone in their cells, and each occupied cell costs over 100 bytes.
type Index struct {
	mu       sync.RWMutex
	levels   []int // resolutions a cell may have, coarse to fine
	capacity int   // workers a cell holds before it splits
	nodes    []node
	free     []int32
	cells    map[uint64]int32 // every occupied cell to its node
	roots    []kid            // the occupied cells at levels[0]
	loc      locator
	n        int

	alwaysCell bool // benchmark baseline: never take the in-place path
}

// entry is one worker, stored in its leaf so that a query reads positions
// and attributes from one contiguous slice. 32 bytes.
type entry struct {
	p      Point
	skills uint64
	id     ID
	cert   uint8
	avail  bool
}

func (e *entry) attrs() Attrs { return Attrs{Skills: e.skills, Cert: e.cert, Available: e.avail} }

// Defaults; see the Index doc comment for the measurements.
const (
	defaultTopRes   = 2
	defaultLeafRes  = 10
	defaultCapacity = 128
)

// NewIndex returns an empty index.
func NewIndex() *Index { return newIndex(defaultTopRes, defaultLeafRes, defaultCapacity) }

func newIndex(top, leaf, capacity int) *Index {
	var levels []int
	for r := top; r <= leaf; r++ {
		levels = append(levels, r)
	}
	return newIndexLevels(levels, capacity)
}

// newIndexLevels takes the resolutions a cell may have, coarse to fine.
func newIndexLevels(levels []int, capacity int) *Index {
	if len(levels) == 0 || levels[0] < 0 || levels[len(levels)-1] > MaxResolution || capacity < 1 {
		panic("geo: bad index shape")
	}
	for i := 1; i < len(levels); i++ {
		if levels[i] <= levels[i-1] {
			panic("geo: bad index shape")
		}
	}
	return &Index{levels: levels, capacity: capacity, cells: make(map[uint64]int32)}
}

func (ix *Index) leafRes() int { return ix.levels[len(ix.levels)-1] }

// Upsert inserts or replaces a worker's position and attributes.
func (ix *Index) Upsert(id ID, p Point, a Attrs) error {
	if err := p.Validate(); err != nil {
		return err
	}
	ix.mu.Lock()
	if s := ix.loc.get(id); s.ok() && ix.moveInPlace(s, p) {
		ix.setAttrs(s, a)
		ix.mu.Unlock()
		return nil
	}
	ix.mu.Unlock()

	// The cgo call runs outside the lock; whatever happened meanwhile, the
	// update below still applies the newest position for id.
	cell := latLngToCell(p, ix.leafRes())
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if s := ix.loc.get(id); s.ok() {
		ix.relocate(s, p, cell)
		ix.setAttrs(ix.loc.get(id), a)
		return nil
	}
	ix.place(entry{p: p, skills: a.Skills, id: id, cert: a.Cert, avail: a.Available}, cell)
	ix.n++
	return nil
}

// Move changes a known worker's position; it returns false if id is unknown.
func (ix *Index) Move(id ID, p Point) (bool, error) {
	if err := p.Validate(); err != nil {
		return false, err
	}
	ix.mu.Lock()
	s := ix.loc.get(id)
	if !s.ok() {
		ix.mu.Unlock()
		return false, nil
	}
	if ix.moveInPlace(s, p) {
		ix.mu.Unlock()
		return true, nil
	}
	ix.mu.Unlock()

	cell := latLngToCell(p, ix.leafRes())
	ix.mu.Lock()
	defer ix.mu.Unlock()
	s = ix.loc.get(id)
	if !s.ok() {
		return false, nil // removed while the cell was computed
	}
	ix.relocate(s, p, cell)
	return true, nil
}

// SetAttrs changes a known worker's attributes; it returns false if id is unknown.
func (ix *Index) SetAttrs(id ID, a Attrs) bool {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	s := ix.loc.get(id)
	if !s.ok() {
		return false
	}
	ix.setAttrs(s, a)
	return true
}

// Remove deletes a worker; unknown ids are ignored.
func (ix *Index) Remove(id ID) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if s := ix.loc.get(id); s.ok() {
		ix.unplace(s)
		ix.loc.set(id, slot{})
		ix.n--
	}
}

// Get returns a worker's position and attributes.
func (ix *Index) Get(id ID) (Point, Attrs, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	s := ix.loc.get(id)
	if !s.ok() {
		return Point{}, Attrs{}, false
	}
	e := &ix.rec(s.leaf - 1).ents[s.i]
	return e.p, e.attrs(), true
}

// Len is the number of indexed workers.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.n
}

// CountByCell counts the workers passing f (its attribute tests and Accept;
// MaxMeters has no centre here and is ignored) per cell at resolution res:
// each worker counts in the cell CellOf(position, res), the hexagon a map
// draws, not in an H3 parent of some finer cell (H3 children do not tile
// their parent exactly). Cells without such workers are absent; an invalid
// resolution gives nil.
//
// Under the read lock it only counts whole leaves whose bounding ball lies
// inside the inscribed circle of one cell at res, and copies the other
// workers' positions; those are placed after the lock is released, most by
// the same circle test and the rest by h3, so a dashboard refresh does not
// hold up updates (a waiting writer also holds up new queries).
func (ix *Index) CountByCell(res int, f Filter) map[Cell]int {
	if res < 0 || res > MaxResolution {
		return nil
	}
	out := make(map[Cell]int)
	geoms := make(map[uint64]cellGeom)
	geom := func(c uint64) cellGeom {
		g, ok := geoms[c]
		if !ok {
			g = geomOf(c)
			geoms[c] = g
		}
		return g
	}
	type pending struct {
		p    Point
		cand uint64 // the cell at res that the worker's leaf belongs to, or 0
	}
	var rest []pending
	ix.mu.RLock()
	for i := range ix.nodes {
		n := &ix.nodes[i]
		if n.cell == 0 {
			continue // free
		}
		k := n.self
		if k.kids != nil || !f.mayMatch(&k.sum) {
			continue
		}
		cand := uint64(0)
		whole := false
		if res <= n.res() {
			cand = parentBits(n.cell, res)
			g := geom(cand)
			whole = math.Sqrt(k.c.chord2(g.c))+k.rc < g.inner
		}
		for j := range k.ents {
			e := &k.ents[j]
			if !f.matchEntry(e) || f.Accept != nil && !f.Accept(e.id) {
				continue
			}
			if whole {
				out[Cell(cand)]++
			} else {
				rest = append(rest, pending{e.p, cand})
			}
		}
	}
	ix.mu.RUnlock()
	for _, w := range rest {
		if w.cand != 0 {
			if g := geom(w.cand); toVec(w.p).chord2(g.c) < g.inner*g.inner {
				out[Cell(w.cand)]++
				continue
			}
		}
		out[Cell(latLngToCell(w.p, res))]++
	}
	return out
}
