package geo

import (
	"cmp"
	"math"
	"slices"
	"sync"
)

// Nearest appends to dst the k nearest workers to p that pass f, ranked by
// DistanceMeters, ties broken by smaller ID: exactly the first k of a
// brute-force scan sorted the same way.
//
// The search opens occupied cells best-first, from the coarsest level down
// to the leaves, in order of a lower bound on the distance from p to any
// worker in the cell. Each cell's bound is the chord from p to the cell
// centre minus a radius that provably holds every worker below (the
// triangle inequality on unit vectors; see cover and growUp), so no grid
// geometry, pentagon or face distortion enters the proof. The search stops
// when the smallest open bound exceeds the current k-th distance (or
// MaxMeters) plus a rounding margin, or when no cell is left, so it ends
// even when nobody is eligible; cells whose summary shows no worker can
// pass f are never opened.
func (ix *Index) Nearest(p Point, k int, f Filter, dst []Neighbor) ([]Neighbor, error) {
	if err := p.Validate(); err != nil {
		return dst, err
	}
	if k <= 0 {
		return dst, nil
	}
	s := searchers.Get().(*searcher)
	ix.mu.RLock()
	s.run(ix, p, k, &f)
	ix.mu.RUnlock()
	slices.SortFunc(s.res, func(a, b Neighbor) int {
		if c := cmp.Compare(a.Meters, b.Meters); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	dst = append(dst, s.res...)
	s.f = nil
	searchers.Put(s)
	return dst, nil
}

var searchers = sync.Pool{New: func() any { return new(searcher) }}

// cand is a cell waiting to be opened, keyed by its lower bound (chord).
type cand struct {
	key   float64
	idx   int32
	level int32
}

type searcher struct {
	q      vec3
	o      origin
	f      *Filter
	k      int
	limit  float64 // MaxMeters, or +Inf
	boundC float64 // chord beyond which nothing can enter the result
	open   []cand  // min-heap on key
	res    []Neighbor
}

// Rounding margin of the pruning bound: prune only cells farther than the
// k-th distance plus this. Haversine error is below a millimetre except
// near antipodes (about 0.1 m), so 1 m never prunes a tie.
const boundSlackMeters = 1

func (s *searcher) setBound(m float64) {
	a := (m + boundSlackMeters + m*1e-9) / EarthRadiusMeters
	if a >= math.Pi || math.IsInf(m, 1) {
		s.boundC = math.Inf(1)
		return
	}
	s.boundC = 2 * math.Sin(a/2)
}

func (s *searcher) run(ix *Index, p Point, k int, f *Filter) {
	s.q, s.o, s.f, s.k = toVec(p), newOrigin(p), f, k
	s.limit = math.Inf(1)
	if f.MaxMeters > 0 {
		s.limit = f.MaxMeters
	}
	s.setBound(s.limit)
	s.open, s.res = s.open[:0], s.res[:0]
	leafLevel := int32(len(ix.levels) - 1)
	for _, r := range ix.roots {
		n := &ix.inner[r]
		s.consider(n.c, n.rc, &n.sum, r, 0)
	}
	for len(s.open) > 0 {
		c := s.pop()
		if c.key > s.boundC {
			return
		}
		if c.level == leafLevel {
			s.scan(&ix.leaves[c.idx])
			continue
		}
		kids := ix.inner[c.idx].kids
		if c.level+1 == leafLevel {
			for _, li := range kids {
				l := &ix.leaves[li]
				s.consider(l.c, l.rc, &l.sum, li, leafLevel)
			}
			continue
		}
		for _, ni := range kids {
			n := &ix.inner[ni]
			s.consider(n.c, n.rc, &n.sum, ni, c.level+1)
		}
	}
}

// consider queues a cell unless its bound or summary rules it out.
func (s *searcher) consider(c vec3, rc float64, sum *summary, idx, level int32) {
	if !s.f.mayMatch(sum) {
		return
	}
	key := math.Sqrt(s.q.chord2(c)) - rc
	if key > s.boundC {
		return
	}
	s.push(cand{key, idx, level})
}

func (s *searcher) scan(l *leafNode) {
	f := s.f
	for i := range l.ents {
		e := &l.ents[i]
		if !f.matchEntry(e) {
			continue
		}
		d := s.o.meters(e.p)
		if d > s.limit {
			continue
		}
		full := len(s.res) == s.k
		if full && worse(Neighbor{e.id, d}, s.res[0]) {
			continue
		}
		if f.Accept != nil && !f.Accept(e.id) {
			continue
		}
		s.add(Neighbor{e.id, d}, full)
	}
}

// worse orders neighbours by distance, then ID.
func worse(a, b Neighbor) bool {
	return a.Meters > b.Meters || a.Meters == b.Meters && a.ID > b.ID
}

// add keeps res as a max-heap of the k best so far; once full, the worst of
// them bounds the search.
func (s *searcher) add(n Neighbor, full bool) {
	h := s.res
	if full {
		h[0] = n
		i := 0
		for {
			l, m := 2*i+1, i
			if l < len(h) && worse(h[l], h[m]) {
				m = l
			}
			if r := l + 1; r < len(h) && worse(h[r], h[m]) {
				m = r
			}
			if m == i {
				break
			}
			h[i], h[m] = h[m], h[i]
			i = m
		}
	} else {
		h = append(h, n)
		for i := len(h) - 1; i > 0; {
			p := (i - 1) / 2
			if !worse(h[i], h[p]) {
				break
			}
			h[i], h[p] = h[p], h[i]
			i = p
		}
		s.res = h
	}
	if len(h) == s.k {
		s.setBound(min(h[0].Meters, s.limit))
	}
}

func (s *searcher) push(c cand) {
	h := append(s.open, c)
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if h[p].key <= h[i].key {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	s.open = h
}

func (s *searcher) pop() cand {
	h := s.open
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < len(h) && h[l].key < h[m].key {
			m = l
		}
		if r := l + 1; r < len(h) && h[r].key < h[m].key {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	s.open = h
	return top
}
