package geo

import (
	"sort"
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
	Skills        uint64        // every bit set here must be set in Attrs.Skills
	MinCert       uint8         // Attrs.Cert must be at least this
	OnlyAvailable bool          // Attrs.Available must be true
	MaxMeters     float64       // 0 means no limit; otherwise distance <= MaxMeters
	Accept        func(ID) bool // optional extra check, called last
}

// Match reports whether a worker with attributes a passes f's attribute tests
// (not MaxMeters, not Accept).
func (f *Filter) Match(a Attrs) bool {
	return a.Skills&f.Skills == f.Skills && a.Cert >= f.MinCert && (!f.OnlyAvailable || a.Available)
}

// Neighbor is one result of Nearest.
type Neighbor struct {
	ID     ID
	Meters float64
}

// Index holds worker positions. Safe for concurrent use.
//
// STUB: a brute-force placeholder with the final API; the H3 version
// replaces the internals.
type Index struct {
	mu sync.RWMutex
	m  map[ID]entry
}

type entry struct {
	p Point
	a Attrs
}

// NewIndex returns an empty index.
func NewIndex() *Index { return &Index{m: make(map[ID]entry)} }

// Upsert inserts or replaces a worker's position and attributes.
func (ix *Index) Upsert(id ID, p Point, a Attrs) error {
	if err := p.Validate(); err != nil {
		return err
	}
	ix.mu.Lock()
	ix.m[id] = entry{p, a}
	ix.mu.Unlock()
	return nil
}

// Move changes a known worker's position; it returns false if id is unknown.
func (ix *Index) Move(id ID, p Point) (bool, error) {
	if err := p.Validate(); err != nil {
		return false, err
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	e, ok := ix.m[id]
	if ok {
		e.p = p
		ix.m[id] = e
	}
	return ok, nil
}

// SetAttrs changes a known worker's attributes; it returns false if id is unknown.
func (ix *Index) SetAttrs(id ID, a Attrs) bool {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	e, ok := ix.m[id]
	if ok {
		e.a = a
		ix.m[id] = e
	}
	return ok
}

// Remove deletes a worker; unknown ids are ignored.
func (ix *Index) Remove(id ID) {
	ix.mu.Lock()
	delete(ix.m, id)
	ix.mu.Unlock()
}

// Get returns a worker's position and attributes.
func (ix *Index) Get(id ID) (Point, Attrs, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	e, ok := ix.m[id]
	return e.p, e.a, ok
}

// Len is the number of indexed workers.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.m)
}

// Nearest appends to dst the k nearest workers to p that pass f, ranked by
// great-circle distance, ties broken by smaller ID.
func (ix *Index) Nearest(p Point, k int, f Filter, dst []Neighbor) ([]Neighbor, error) {
	if err := p.Validate(); err != nil {
		return dst, err
	}
	ix.mu.RLock()
	var all []Neighbor
	for id, e := range ix.m {
		if !f.Match(e.a) {
			continue
		}
		d := DistanceMeters(p, e.p)
		if f.MaxMeters > 0 && d > f.MaxMeters {
			continue
		}
		if f.Accept != nil && !f.Accept(id) {
			continue
		}
		all = append(all, Neighbor{id, d})
	}
	ix.mu.RUnlock()
	sort.Slice(all, func(i, j int) bool {
		if all[i].Meters != all[j].Meters {
			return all[i].Meters < all[j].Meters
		}
		return all[i].ID < all[j].ID
	})
	if len(all) > k {
		all = all[:k]
	}
	return append(dst, all...), nil
}
