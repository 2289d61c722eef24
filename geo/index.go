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
	// that would otherwise enter the result, so it may be called for fewer
	// workers than pass the other tests. It runs under the index's read
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

// Index holds worker positions in a hierarchy of H3 cells and answers
// nearest-k queries. It is safe for concurrent use: one RWMutex, because a
// query holds it for microseconds and updates for less (see BENCHMARKS.md,
// where the parallel benchmark measures the contention).
//
// Resolutions. Workers sit in leaf cells at resolution 9 (about 0.1 km²,
// 175 m edge); above them the occupied parent cells at resolutions 7, 5 and
// 3 form a tree with fan-out up to 49. Measured on city-clustered data at
// 1.5M workers (BENCHMARKS.md): leaves at 8 make dense downtown cells hold
// hundreds of workers that a query must filter one by one; leaves at 10
// cost more memory per worker than the 64-byte budget and more nodes to
// open per query; 9 was fastest and fits. Skipping every other resolution
// halves the depth for the same fan-out, which measured faster than a
// 7-ary tree.
//
// Updates. Each leaf keeps its centre and a circle that lies inside the
// cell; a move that stays inside that circle updates the position in place
// with no cgo call. Only moves near or across an edge ask h3 for the cell.
type Index struct {
	mu     sync.RWMutex
	levels []int // resolutions, coarse to fine; the last one holds workers
	inner  []innerNode
	leaves []leafNode
	// cells maps a cell to its node: levels[i] for i < len(levels)-1 index
	// inner, the last map indexes leaves.
	cells      []map[uint64]int32
	freeInner  []int32
	freeLeaves []int32
	roots      []int32
	loc        locator
	n          int
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

// summary lets a query skip a subtree in which no worker can pass the
// filter. avail is exact; skills and cert only grow while the node lives,
// so a stale summary costs time, never a result.
type summary struct {
	skills uint64
	avail  int32
	cert   uint8
}

func (s *summary) add(e *entry) {
	s.skills |= e.skills
	s.cert = max(s.cert, e.cert)
	if e.avail {
		s.avail++
	}
}

// innerNode is an occupied cell above the leaves.
type innerNode struct {
	c      vec3
	rc     float64 // chord radius around c that holds every worker below
	cell   uint64
	sum    summary
	count  int32
	parent int32 // index into inner one level up, -1 for a root
	kids   []int32
}

// leafNode is an occupied cell at the leaf resolution.
type leafNode struct {
	c      vec3
	rc     float64 // chord radius around c that holds every worker here
	in2    float64 // squared chord radius of a circle inside the cell
	cell   uint64
	sum    summary
	parent int32
	ents   []entry
}

// Default resolutions; see the Index doc comment for the measurements.
var defaultLevels = []int{3, 5, 7, 9}

// NewIndex returns an empty index.
func NewIndex() *Index { return newIndex(defaultLevels) }

func newIndex(levels []int) *Index {
	ix := &Index{levels: append([]int(nil), levels...)}
	ix.cells = make([]map[uint64]int32, len(levels))
	for i := range ix.cells {
		ix.cells[i] = make(map[uint64]int32)
	}
	return ix
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
	ix.place(id, p, a, cell)
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
	e := &ix.leaves[s.leaf-1].ents[s.i]
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
// draws, not in its leaf's H3 parent (H3 children do not tile their parent
// exactly). Cells without such workers are absent; an invalid resolution
// gives nil.
//
// A leaf whose bounding ball lies inside the inscribed circle of a coarse
// cell counts as a whole with no cgo call; only workers in leaves that
// straddle a coarse edge are located one by one, after the lock is released.
func (ix *Index) CountByCell(res int, f Filter) map[Cell]int {
	if res < 0 || res > MaxResolution {
		return nil
	}
	out := make(map[Cell]int)
	var pts []Point // workers whose cell must be asked of h3
	geoms := make(map[uint64]cellGeom)
	ix.mu.RLock()
	leafRes := ix.leafRes()
	for i := range ix.leaves {
		l := &ix.leaves[i]
		if len(l.ents) == 0 || !f.mayMatch(&l.sum) {
			continue
		}
		whole := uint64(0) // the cell holding the entire leaf, if known
		switch {
		case res == leafRes:
			whole = l.cell
		case res < leafRes-1:
			// One level up the straddling share is too high to pay for
			// the coarse cell's geometry.
			pc := parentBits(l.cell, res)
			g, ok := geoms[pc]
			if !ok {
				g = leafGeom(pc)
				geoms[pc] = g
			}
			if math.Sqrt(l.c.chord2(g.c))+l.rc < g.inner {
				whole = pc
			}
		}
		n := 0
		for j := range l.ents {
			e := &l.ents[j]
			if !f.matchEntry(e) || f.Accept != nil && !f.Accept(e.id) {
				continue
			}
			if whole != 0 {
				n++
			} else {
				pts = append(pts, e.p)
			}
		}
		if n > 0 {
			out[Cell(whole)] += n
		}
	}
	ix.mu.RUnlock()
	for _, p := range pts {
		out[Cell(latLngToCell(p, res))]++
	}
	return out
}
