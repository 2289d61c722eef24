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
	s.run(ix, p, k, f)
	ix.mu.RUnlock()
	slices.SortFunc(s.res, func(a, b Neighbor) int {
		if c := cmp.Compare(a.Meters, b.Meters); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	dst = append(dst, s.res...)
	// Drop what points into the index and the caller's closure, so a
	// pooled searcher keeps neither alive.
	s.f = Filter{}
	clear(s.open[:cap(s.open)])
	clear(s.later[:cap(s.later)])
	searchers.Put(s)
	return dst, nil
}

var searchers = sync.Pool{New: func() any { return new(searcher) }}

// cand is a cell waiting to be opened, keyed by its lower bound (chord).
type cand struct {
	key float64
	k   *kid
}

type searcher struct {
	q      vec3
	o      origin
	f      Filter
	k      int
	limit  float64 // MaxMeters, or +Inf
	boundC float64 // chord beyond which nothing can enter the result
	boundS float64 // the same bound as a haversine term, for workers
	sinLat float64 // |sin| of the query latitude
	open   []cand  // min-heap on key, all keys <= horizon
	later  []cand  // cells beyond the horizon, unordered
	res    []Neighbor
	// horizon is a chord radius: cells farther are parked in later rather
	// than queued. Most cells weighed before the k-th distance is known
	// turn out too far; parking costs an append where queueing costs a
	// heap insertion. When the heap runs dry short of k results the
	// horizon widens and parked cells are reconsidered.
	horizon float64
}

// The first horizon and its growth per widening, in chord units (about
// 6371 km per unit).
var (
	firstHorizon  = arcToChord(2000 / EarthRadiusMeters)
	horizonGrowth = 4.0
)

// Rounding margin of the pruning bound: prune only cells farther than the
// k-th distance plus this. Haversine error is below a millimetre except
// near antipodes (about 0.1 m), so 1 m never prunes a tie.
const boundSlackMeters = 1

func (s *searcher) setBound(m float64) {
	a := (m + boundSlackMeters + m*1e-9) / EarthRadiusMeters
	if a >= math.Pi || math.IsInf(m, 1) {
		s.boundC, s.boundS = math.Inf(1), math.Inf(1)
		return
	}
	h := math.Sin(a / 2)
	s.boundC, s.boundS = 2*h, h*h
}

// havLowerBound is a cheap lower bound on the haversine term that
// origin.meters computes for b (hav(dLat) + cos lat1 cos lat2 hav(dLng)),
// so that most workers beyond the k-th distance cost a few multiplications
// instead of four transcendental functions. It uses sin y >= y - y^3/6,
// hence sin^2 y >= y^2 (1 - y^2/3) for 0 <= y <= pi/2, and
// cos(lat1+d) >= cos lat1 (1 - d^2/2) - |sin lat1| |d|.
func (s *searcher) havLowerBound(b Point) float64 {
	dLat := b.Lat*degToRad - s.o.lat
	dLng := math.Abs(b.Lng-s.o.lng) * degToRad
	if dLng > math.Pi {
		dLng = 2*math.Pi - dLng
	}
	y, z := dLat/2, dLng/2
	hLat := y * y * (1 - y*y/3)
	hLng := z * z * (1 - z*z/3)
	cos2 := max(0, s.o.cosLat*(1-dLat*dLat/2)-s.sinLat*math.Abs(dLat))
	return hLat + s.o.cosLat*cos2*hLng
}

func (s *searcher) run(ix *Index, p Point, k int, f Filter) {
	s.q, s.o, s.f, s.k = toVec(p), newOrigin(p), f, k
	s.sinLat = math.Abs(math.Sin(s.o.lat))
	s.limit = math.Inf(1)
	if f.MaxMeters > 0 {
		s.limit = f.MaxMeters
	}
	s.setBound(s.limit)
	s.open, s.later, s.res = s.open[:0], s.later[:0], s.res[:0]
	s.horizon = firstHorizon
	s.considerAll(ix.roots)
	for {
		for len(s.open) > 0 {
			c := s.pop()
			if c.key > s.boundC {
				return // everything queued or parked is farther still
			}
			if c.k.kids != nil {
				s.considerAll(c.k.kids)
			} else {
				s.scan(c.k.ents)
			}
		}
		if len(s.later) == 0 || s.horizon >= s.boundC {
			return
		}
		s.horizon *= horizonGrowth
		parked := s.later
		s.later = s.later[:0]
		for _, c := range parked {
			s.queue(c)
		}
	}
}

// queue puts a cell in the heap, among the parked ones, or nowhere if the
// bound already rules it out.
func (s *searcher) queue(c cand) {
	switch {
	case c.key > s.boundC:
	case c.key > s.horizon:
		s.later = append(s.later, c)
	default:
		s.push(c)
	}
}

// considerAll queues the cells that neither their bound nor their summary
// rules out.
func (s *searcher) considerAll(kids []kid) {
	for i := range kids {
		k := &kids[i]
		if !s.f.mayMatch(&k.sum) {
			continue
		}
		s.queue(cand{math.Sqrt(s.q.chord2(k.c)) - k.rc, k})
	}
}

func (s *searcher) scan(ents []entry) {
	f := &s.f
	for i := range ents {
		e := &ents[i]
		if !f.matchEntry(e) || s.havLowerBound(e.p) > s.boundS {
			continue
		}
		h := s.o.hav(e.p)
		if h > s.boundS {
			continue
		}
		d := metersOf(h)
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
