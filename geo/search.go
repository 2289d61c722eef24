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
	dst = s.appendResult(dst)
	s.f = Filter{} // the pool must not keep the caller's closure alive
	searchers.Put(s)
	return dst, nil
}

var searchers = sync.Pool{New: func() any { return new(searcher) }}

// cand is a cell waiting to be opened, keyed by its lower bound (chord).
type cand struct {
	key float64
	k   *kid
}

// hit is a worker that passed every test, ranked by its haversine term h:
// the distance is a monotone function of h, computed (an arcsine) only for
// the final few.
type hit struct {
	h  float64
	id ID
}

type searcher struct {
	q      vec3
	o      origin
	f      Filter
	k      int
	sinLat float64 // |sin| of the query latitude
	limit  float64 // MaxMeters, or +Inf
	// Workers with a term below limLo are within MaxMeters, above limHi
	// beyond it; in between the distance itself decides.
	limLo, limHi float64
	// Once k hits are held, band is the largest term that can still tie
	// with the k-th after rounding: workers up to it are kept in near.
	band   float64
	boundC float64 // chord beyond which no cell can hold a candidate
	boundS float64 // the same bound as a haversine term, for workers
	open   []cand  // min-heap on key, all keys <= horizon
	later  []cand  // cells beyond the horizon, unordered
	hits   []hit   // max-heap on (h, id) of the k best terms
	near   []hit   // candidates displaced from hits or tied within band
	res    []Neighbor
	// horizon is a chord radius: cells farther are parked in later rather
	// than queued. Most cells weighed before the k-th distance is known
	// turn out too far; parking costs an append where queueing costs a
	// heap insertion. When the heap runs dry short of k results the
	// horizon widens and parked cells are reconsidered.
	horizon float64
}

// The first horizon and its growth per widening, in chord units (about
// 6371 km per unit). On the 1.5M benchmark data a 1 km horizon queues 24
// cells per query against 81 with none, and widens on one query in three.
var (
	firstHorizon  = arcToChord(1000 / EarthRadiusMeters)
	horizonGrowth = 4.0
)

// Ranking on the haversine term is exact once ties are handled: a term
// larger by the relative tieBand gives a larger distance by far more than
// rounding, so only workers within the band of the k-th term can tie with
// it after the arcsine, and those are all kept until the end.
const tieBand = 1e-9

func above(h float64) float64 {
	if hi := h * (1 + tieBand); hi < 1 {
		return hi
	}
	return math.Inf(1) // near the antipode the arcsine flattens: keep all
}

// Rounding margin of the pruning bound, in metres: prune only cells
// farther than the band plus this. Chord and haversine errors are below a
// micrometre, so 1 m never prunes a candidate.
const boundSlackMeters = 1

// setBound prunes cells and workers beyond the term hb (or nothing when
// hb is infinite).
func (s *searcher) setBound(hb float64) {
	c := 2*math.Sqrt(hb) + boundSlackMeters/EarthRadiusMeters
	if math.IsInf(hb, 1) || c >= 2 {
		s.boundC, s.boundS = math.Inf(1), math.Inf(1)
		return
	}
	s.boundC, s.boundS = c, c*c/4
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
	const third = 1.0 / 3
	hLat := y * y * (1 - y*y*third)
	hLng := z * z * (1 - z*z*third)
	cos2 := max(0, s.o.cosLat*(1-dLat*dLat*0.5)-s.sinLat*math.Abs(dLat))
	return hLat + s.o.cosLat*cos2*hLng
}

func (s *searcher) run(ix *Index, p Point, k int, f Filter) {
	s.q, s.o, s.f, s.k = toVec(p), newOrigin(p), f, k
	s.sinLat = math.Abs(s.o.sinLat)
	s.limit, s.limLo, s.limHi = math.Inf(1), math.Inf(1), math.Inf(1)
	if a := f.MaxMeters / (2 * EarthRadiusMeters); f.MaxMeters > 0 && a < math.Pi/2 {
		h := math.Sin(a)
		h *= h
		s.limit, s.limLo, s.limHi = f.MaxMeters, h*(1-tieBand), above(h)
	}
	s.band = math.Inf(1)
	s.setBound(s.limHi)
	s.open, s.later, s.hits, s.near = s.open[:0], s.later[:0], s.hits[:0], s.near[:0]
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
		// Filter the parked cells in place: consider appends at most one
		// for each one read, never ahead of the reader.
		parked := s.later
		s.later = s.later[:0]
		for _, c := range parked {
			s.consider(c.k, c.key)
		}
	}
}

// considerAll weighs a cell's children: each is dropped if its summary or
// bound rules it out, parked beyond the horizon, or queued. Comparing
// squared chords spares a square root for the many that are not queued.
func (s *searcher) considerAll(kids []kid) {
	for i := range kids {
		k := &kids[i]
		if s.f.mayMatch(&k.sum) {
			s.consider(k, s.q.chord2(k.c))
		}
	}
}

// consider takes a cell at squared chord d2 from the query point.
func (s *searcher) consider(k *kid, d2 float64) {
	if t := s.boundC + k.rc; d2 > t*t {
		return
	}
	if t := s.horizon + k.rc; d2 > t*t {
		s.later = append(s.later, cand{d2, k}) // parked with d2 as key
		return
	}
	s.push(cand{math.Sqrt(d2) - k.rc, k})
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
		if h > s.limLo && (h > s.limHi || metersOf(h) > s.limit) {
			continue
		}
		s.offer(hit{h, e.id})
	}
}

// worse orders hits by term, then ID.
func (a hit) worse(b hit) bool { return a.h > b.h || a.h == b.h && a.id > b.id }

// offer keeps x if it is among the k best terms so far or ties within the
// band, asking Accept first.
func (s *searcher) offer(x hit) {
	h := s.hits
	full := len(h) == s.k
	if full && x.worse(h[0]) {
		if x.h > s.band || s.f.Accept != nil && !s.f.Accept(x.id) {
			return
		}
		s.near = append(s.near, x)
		return
	}
	if s.f.Accept != nil && !s.f.Accept(x.id) {
		return
	}
	if full {
		s.near = append(s.near, h[0])
		h[0] = x
		for i := 0; ; {
			l, m := 2*i+1, i
			if l < len(h) && h[l].worse(h[m]) {
				m = l
			}
			if r := l + 1; r < len(h) && h[r].worse(h[m]) {
				m = r
			}
			if m == i {
				break
			}
			h[i], h[m] = h[m], h[i]
			i = m
		}
	} else {
		h = append(h, x)
		for i := len(h) - 1; i > 0; {
			p := (i - 1) / 2
			if !h[i].worse(h[p]) {
				break
			}
			h[i], h[p] = h[p], h[i]
			i = p
		}
		s.hits = h
	}
	if len(h) == s.k {
		s.band = above(h[0].h)
		s.setBound(min(s.band, s.limHi))
	}
}

// appendResult turns the hits and the tied candidates into distances,
// ranks them by distance then ID and appends the first k to dst.
func (s *searcher) appendResult(dst []Neighbor) []Neighbor {
	r := s.res[:0]
	for _, x := range s.hits {
		r = append(r, Neighbor{x.id, metersOf(x.h)})
	}
	for _, x := range s.near {
		if x.h <= s.band {
			r = append(r, Neighbor{x.id, metersOf(x.h)})
		}
	}
	sortNeighbors(r)
	s.res = r
	return append(dst, r[:min(len(r), s.k)]...)
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

// sortNeighbors sorts by distance, then ID; insertion sort for the usual
// small k, where it beats a generic sort several times over.
func sortNeighbors(r []Neighbor) {
	if len(r) > 32 {
		slices.SortFunc(r, func(a, b Neighbor) int {
			if c := cmp.Compare(a.Meters, b.Meters); c != 0 {
				return c
			}
			return cmp.Compare(a.ID, b.ID)
		})
		return
	}
	for i := 1; i < len(r); i++ {
		for j := i; j > 0 && worse(r[j-1], r[j]); j-- {
			r[j-1], r[j] = r[j], r[j-1]
		}
	}
}

// worse orders neighbours by distance, then ID.
func worse(a, b Neighbor) bool {
	return a.Meters > b.Meters || a.Meters == b.Meters && a.ID > b.ID
}
