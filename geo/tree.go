package geo

import "math"

// The index is a tree of occupied H3 cells. A cell holds its workers
// directly (a leaf) until it has more than the capacity; then it splits
// and its workers move to its children one resolution finer, down to the
// leaf resolution, whose cells never split. A subtree that falls to half
// the capacity merges back into one leaf. Sparse countryside therefore
// sits in a few coarse leaves and a dense downtown in many fine ones: the
// tree costs little memory per worker everywhere, a query opens few cells
// wherever it starts, and most moves stay inside their (large) leaf.
//
// Where a worker is placed is decided by the index bits of its cell at the
// leaf resolution (parentBits), not by geometry: H3 children do not tile
// their parent exactly. After a move a worker stays in its leaf, with no
// cgo call, while it lies inside the leaf's bounding ball (which contains
// the whole cell); only a move out of the ball asks h3 for the new cell.
// The search depends on neither rule. It only needs every worker to lie
// inside the bounding ball of every cell above it, which cover and growUp
// maintain from measured distances.

// kid is a cell as its parent (or roots) stores it: everything a query
// reads. Weighing a cell's children reads one array, and opening a child
// follows its slice directly; at a million workers each avoided pointer
// hop is a cache miss saved per opened cell.
type kid struct {
	c    vec3    // cell centre
	rc   float64 // chord radius around c that holds every worker below
	sum  summary
	ents []entry // a leaf's workers
	kids []kid   // an inner cell's occupied children; nil for a leaf
	idx  int32   // node index
}

// summary lets a query skip a subtree in which no worker can pass the
// filter. count and avail are exact; skills and cert only grow until the
// subtree is merged, so a stale summary costs time, never a result.
type summary struct {
	skills uint64
	count  int32
	avail  int32
	cert   uint8
}

func (s *summary) add(e *entry) {
	s.skills |= e.skills
	s.cert = max(s.cert, e.cert)
	s.count++
	if e.avail {
		s.avail++
	}
}

// node is what updates need about an occupied cell beyond its record: a
// leaf's record has kids == nil and holds workers, an inner cell's record
// holds occupied children. A record moves when its parent's kids array is
// reallocated or compacted; self follows it, and any other *kid is only
// held while no cell is added or removed.
type node struct {
	self   *kid
	cell   uint64
	parent int32 // node index, -1 for a root
	slot   int32 // position in the parent's kids, or in roots
}

func (n *node) res() int { return int(n.cell >> resShift & 0xf) }

// slot locates a worker: leaf is the leaf's node index plus one (0 means
// the id is absent), i the position in that leaf's entries.
type slot struct{ leaf, i int32 }

func (s slot) ok() bool { return s.leaf != 0 }

// locator maps dense ids to slots in pages allocated on first use, so an
// id far above the others costs one page pointer per 4096 ids skipped, not
// a slot per id.
type locator struct{ pages []*[pageSize]slot }

const (
	pageBits = 12
	pageSize = 1 << pageBits
)

func (l *locator) get(id ID) slot {
	p := int(id >> pageBits)
	if p >= len(l.pages) || l.pages[p] == nil {
		return slot{}
	}
	return l.pages[p][id&(pageSize-1)]
}

func (l *locator) set(id ID, s slot) {
	p := int(id >> pageBits)
	if p >= len(l.pages) {
		if !s.ok() {
			return
		}
		l.pages = append(l.pages, make([]*[pageSize]slot, p+1-len(l.pages))...)
	}
	if l.pages[p] == nil {
		if !s.ok() {
			return
		}
		l.pages[p] = new([pageSize]slot)
	}
	l.pages[p][id&(pageSize-1)] = s
}

// rec is the record that node ni's parent (or roots) holds for it.
func (ix *Index) rec(ni int32) *kid { return ix.nodes[ni].self }

// eachUp calls fn with the record of node ni and of every cell above it.
func (ix *Index) eachUp(ni int32, fn func(*kid)) {
	for ni >= 0 {
		fn(ix.rec(ni))
		ni = ix.nodes[ni].parent
	}
}

// moveInPlace updates the position if p lies inside the current leaf's
// bounding ball, which contains the whole cell: the worker stays where it
// is without asking h3, and the search's bounds still hold.
func (ix *Index) moveInPlace(s slot, p Point) bool {
	if ix.alwaysCell {
		return false
	}
	k := ix.rec(s.leaf - 1)
	if toVec(p).chord2(k.c) > k.rc*k.rc {
		return false
	}
	k.ents[s.i].p = p
	return true
}

// relocate moves a present worker to p, whose finest cell is fine.
func (ix *Index) relocate(s slot, p Point, fine uint64) {
	li := s.leaf - 1
	l := &ix.nodes[li]
	k := ix.rec(li)
	if parentBits(fine, l.res()) == l.cell {
		k.ents[s.i].p = p
		ix.cover(li, p)
		return
	}
	e := k.ents[s.i]
	e.p = p
	ix.unplace(s)
	ix.place(e, fine)
}

// place adds a worker to the leaf on its cell's path, creating or
// splitting cells as needed.
func (ix *Index) place(e entry, fine uint64) {
	parent := int32(-1)
	for _, res := range ix.levels {
		cell := parentBits(fine, res)
		ni, ok := ix.cells[cell]
		if !ok {
			ni = ix.newNode(cell, parent)
		}
		if k := ix.rec(ni); k.kids == nil {
			ix.addEntry(ni, e)
			if len(k.ents) > ix.capacity && res < ix.leafRes() {
				ix.split(ni)
			}
			return
		}
		parent = ni
	}
}

func (ix *Index) addEntry(li int32, e entry) {
	k := ix.rec(li)
	k.ents = appendEntry(k.ents, e)
	ix.loc.set(e.id, slot{leaf: li + 1, i: int32(len(k.ents) - 1)})
	ix.eachUp(li, func(k *kid) { k.sum.add(&e) })
	ix.cover(li, e.p)
}

// split turns leaf li into an inner node and places its workers again,
// one cgo call each, so they land in its children (or, for a worker that
// stayed in place after drifting off li's path, wherever it belongs).
func (ix *Index) split(li int32) {
	k := ix.rec(li)
	ents := k.ents
	k.ents, k.kids = nil, make([]kid, 0, 7)
	ix.eachUp(li, func(k *kid) {
		k.sum.count -= int32(len(ents))
		for i := range ents {
			if ents[i].avail {
				k.sum.avail--
			}
		}
	})
	for _, e := range ents {
		ix.place(e, latLngToCell(e.p, ix.leafRes()))
	}
	if len(ix.rec(li).kids) == 0 {
		ix.deleteNode(li)
	}
}

// appendEntry grows by a quarter rather than doubling: leaves hold most of
// the index's memory, and slack there is paid per worker.
func appendEntry(s []entry, e entry) []entry {
	if len(s) == cap(s) {
		n := make([]entry, len(s), len(s)+len(s)/4+1)
		copy(n, s)
		s = n
	}
	return append(s, e)
}

// unplace removes the worker at s from its leaf, drops cells left empty
// and merges a subtree that fell to half the capacity. The caller clears
// or rewrites the worker's slot.
func (ix *Index) unplace(s slot) {
	li := s.leaf - 1
	l := ix.rec(li)
	e := l.ents[s.i]
	last := int32(len(l.ents) - 1)
	if s.i != last {
		l.ents[s.i] = l.ents[last]
		ix.loc.set(l.ents[s.i].id, s)
	}
	l.ents = l.ents[:last]
	if c := cap(l.ents); c > 8 && int(last) < c/2 {
		l.ents = append(make([]entry, 0, int(last)+int(last)/4+1), l.ents...)
	}
	ix.eachUp(li, func(k *kid) {
		k.sum.count--
		if e.avail {
			k.sum.avail--
		}
	})
	// The highest ancestor small enough to be one leaf, if any.
	merge := int32(-1)
	for ni := ix.nodes[li].parent; ni >= 0; ni = ix.nodes[ni].parent {
		if c := ix.rec(ni).sum.count; c > 0 && int(c) <= ix.capacity/2 {
			merge = ni
		}
	}
	if last == 0 {
		ix.deleteNode(li)
	}
	if merge >= 0 {
		ix.merge(merge)
	}
}

// merge turns inner node ni back into a leaf holding every worker below.
func (ix *Index) merge(ni int32) {
	k := ix.rec(ni)
	ents := ix.collect(k, make([]entry, 0, k.sum.count))
	k.kids, k.ents = nil, ents
	// Merging is also when the summary can shrink back to the truth.
	k.sum = summary{}
	for i := range ents {
		k.sum.add(&ents[i])
		ix.loc.set(ents[i].id, slot{leaf: ni + 1, i: int32(i)})
	}
}

// collect appends the workers below record k to ents and frees the cells
// below it.
func (ix *Index) collect(k *kid, ents []entry) []entry {
	if k.kids == nil {
		return append(ents, k.ents...)
	}
	for i := range k.kids {
		ents = ix.collect(&k.kids[i], ents)
		ix.freeNode(k.kids[i].idx)
	}
	return ents
}

func (ix *Index) setAttrs(s slot, a Attrs) {
	li := s.leaf - 1
	e := &ix.rec(li).ents[s.i]
	d := int32(0)
	switch {
	case a.Available && !e.avail:
		d = 1
	case !a.Available && e.avail:
		d = -1
	}
	e.skills, e.cert, e.avail = a.Skills, a.Cert, a.Available
	ix.eachUp(li, func(k *kid) {
		k.sum.skills |= a.Skills
		k.sum.cert = max(k.sum.cert, a.Cert)
		k.sum.avail += d
	})
}

// cover widens the leaf's bounding radius, and its ancestors', if p lies
// outside it. This is what keeps the search exact whatever the cell
// geometry: the radius always holds the measured distance.
func (ix *Index) cover(li int32, p Point) {
	k := ix.rec(li)
	if d := math.Sqrt(toVec(p).chord2(k.c)); d > k.rc {
		k.rc = d * (1 + arcMarginRel)
		ix.growUp(ix.nodes[li].parent, k.c, k.rc)
	}
}

// growUp makes the radius of node ni and of every cell above it hold a
// child ball (c, rc): by the triangle inequality a parent needs
// |parent - c| + rc.
func (ix *Index) growUp(ni int32, c vec3, rc float64) {
	for ni >= 0 {
		k := ix.rec(ni)
		need := math.Sqrt(k.c.chord2(c)) + rc
		if k.rc >= need {
			return
		}
		k.rc = need * (1 + 1e-12)
		c, rc, ni = k.c, k.rc, ix.nodes[ni].parent
	}
}

// newNode creates an empty leaf for cell under parent (-1: a root).
func (ix *Index) newNode(cell uint64, parent int32) int32 {
	g := geomOf(cell)
	var ni int32
	if n := len(ix.free); n > 0 {
		ni = ix.free[n-1]
		ix.free = ix.free[:n-1]
	} else {
		ni = int32(len(ix.nodes))
		ix.nodes = append(ix.nodes, node{})
	}
	kids := &ix.roots
	if parent >= 0 {
		kids = &ix.rec(parent).kids
	}
	slot := int32(len(*kids))
	ix.nodes[ni] = node{cell: cell, parent: parent, slot: slot}
	old := cap(*kids)
	*kids = append(*kids, kid{c: g.c, rc: g.outer, idx: ni})
	if cap(*kids) != old {
		for i := range *kids {
			ix.nodes[(*kids)[i].idx].self = &(*kids)[i]
		}
	}
	ix.nodes[ni].self = &(*kids)[slot]
	ix.cells[cell] = ni
	ix.growUp(parent, g.c, g.outer)
	return ni
}

// deleteNode removes node ni, which holds nobody, from its parent, and the
// parent too if that was its last child.
func (ix *Index) deleteNode(ni int32) {
	parent, slot := ix.nodes[ni].parent, ix.nodes[ni].slot
	ix.freeNode(ni)
	kids := &ix.roots
	if parent >= 0 {
		kids = &ix.rec(parent).kids
	}
	s := *kids
	last := int32(len(s) - 1)
	if slot != last {
		s[slot] = s[last]
		ix.nodes[s[slot].idx].slot = slot
		ix.nodes[s[slot].idx].self = &s[slot]
	}
	s[last] = kid{}
	*kids = s[:last]
	if parent >= 0 && last == 0 {
		ix.deleteNode(parent)
	}
}

func (ix *Index) freeNode(ni int32) {
	delete(ix.cells, ix.nodes[ni].cell)
	ix.nodes[ni] = node{}
	ix.free = append(ix.free, ni)
}
