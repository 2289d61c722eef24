package geo

import "math"

// slot locates a worker: leaf is the leaf node index plus one (0 means the
// id is absent), i the position in that leaf's entries.
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

// moveInPlace updates the position if p lies inside the current leaf's
// inscribed circle, which proves the cell is unchanged without asking h3.
func (ix *Index) moveInPlace(s slot, p Point) bool {
	if ix.alwaysCell {
		return false
	}
	l := &ix.leaves[s.leaf-1]
	if toVec(p).chord2(l.c) >= l.in2 {
		return false
	}
	l.ents[s.i].p = p
	return true
}

// relocate moves a present worker to p, which lies in cell.
func (ix *Index) relocate(s slot, p Point, cell uint64) {
	l := &ix.leaves[s.leaf-1]
	if l.cell == cell {
		l.ents[s.i].p = p
		ix.cover(s.leaf-1, p)
		return
	}
	e := l.ents[s.i]
	e.p = p
	ix.unplace(s)
	ix.placeEntry(e, cell)
}

func (ix *Index) place(id ID, p Point, a Attrs, cell uint64) {
	ix.placeEntry(entry{p: p, skills: a.Skills, id: id, cert: a.Cert, avail: a.Available}, cell)
}

func (ix *Index) placeEntry(e entry, cell uint64) {
	li := ix.leafFor(cell)
	l := &ix.leaves[li]
	l.ents = appendEntry(l.ents, e)
	ix.loc.set(e.id, slot{leaf: li + 1, i: int32(len(l.ents) - 1)})
	l.sum.add(&e)
	for pi := l.parent; pi >= 0; pi = ix.inner[pi].parent {
		n := &ix.inner[pi]
		n.count++
		n.sum.add(&e)
	}
	ix.cover(li, e.p)
}

// appendEntry grows by a quarter rather than doubling: leaves hold most of
// the index's memory, and slack there is paid per worker.
func appendEntry(s []entry, e entry) []entry {
	if len(s) == cap(s) {
		n := make([]entry, len(s), len(s)+len(s)/4+2)
		copy(n, s)
		s = n
	}
	return append(s, e)
}

// unplace removes the worker at s from its leaf and drops nodes left empty.
// The caller clears or rewrites the worker's slot.
func (ix *Index) unplace(s slot) {
	li := s.leaf - 1
	l := &ix.leaves[li]
	e := l.ents[s.i]
	last := int32(len(l.ents) - 1)
	if s.i != last {
		l.ents[s.i] = l.ents[last]
		ix.loc.set(l.ents[s.i].id, s)
	}
	l.ents = l.ents[:last]
	if c := cap(l.ents); c > 16 && int(last) < c/4 {
		l.ents = append(make([]entry, 0, int(last)+int(last)/4+2), l.ents...)
	}
	d := int32(0)
	if e.avail {
		d = 1
	}
	l.sum.avail -= d
	for pi := l.parent; pi >= 0; pi = ix.inner[pi].parent {
		n := &ix.inner[pi]
		n.count--
		n.sum.avail -= d
	}
	if last == 0 {
		ix.deleteLeaf(li)
	}
}

func (ix *Index) setAttrs(s slot, a Attrs) {
	l := &ix.leaves[s.leaf-1]
	e := &l.ents[s.i]
	d := int32(0)
	switch {
	case a.Available && !e.avail:
		d = 1
	case !a.Available && e.avail:
		d = -1
	}
	e.skills, e.cert, e.avail = a.Skills, a.Cert, a.Available
	grow := func(sum *summary) {
		sum.skills |= a.Skills
		sum.cert = max(sum.cert, a.Cert)
		sum.avail += d
	}
	grow(&l.sum)
	for pi := l.parent; pi >= 0; pi = ix.inner[pi].parent {
		grow(&ix.inner[pi].sum)
	}
}

// cover widens the leaf's bounding radius if p lies outside it (it never
// should by more than rounding; this keeps the search exact regardless).
func (ix *Index) cover(li int32, p Point) {
	l := &ix.leaves[li]
	if d := math.Sqrt(toVec(p).chord2(l.c)); d > l.rc {
		l.rc = d * (1 + arcMarginRel)
		ix.growUp(l.parent, l.c, l.rc)
	}
}

// growUp makes every ancestor's radius hold a child ball (c, rc): by the
// triangle inequality a parent needs |parent - c| + rc.
func (ix *Index) growUp(pi int32, c vec3, rc float64) {
	for ; pi >= 0; pi = ix.inner[pi].parent {
		n := &ix.inner[pi]
		need := math.Sqrt(n.c.chord2(c)) + rc
		if n.rc >= need {
			return
		}
		n.rc = need * (1 + 1e-12)
		c, rc = n.c, n.rc
	}
}

// leafFor finds or creates the leaf for cell and its ancestors.
func (ix *Index) leafFor(cell uint64) int32 {
	lv := len(ix.levels) - 1
	if li, ok := ix.cells[lv][cell]; ok {
		return li
	}
	g := leafGeom(cell)
	parent := ix.innerFor(lv-1, parentBits(cell, ix.levels[lv-1]))
	var li int32
	if n := len(ix.freeLeaves); n > 0 {
		li = ix.freeLeaves[n-1]
		ix.freeLeaves = ix.freeLeaves[:n-1]
	} else {
		li = int32(len(ix.leaves))
		ix.leaves = append(ix.leaves, leafNode{})
	}
	ix.leaves[li] = leafNode{c: g.c, rc: g.outer, in2: g.inner * g.inner, cell: cell, parent: parent}
	ix.cells[lv][cell] = li
	ix.inner[parent].kids = append(ix.inner[parent].kids, li)
	ix.growUp(parent, g.c, g.outer)
	return li
}

func (ix *Index) innerFor(lv int, cell uint64) int32 {
	if i, ok := ix.cells[lv][cell]; ok {
		return i
	}
	parent := int32(-1)
	if lv > 0 {
		parent = ix.innerFor(lv-1, parentBits(cell, ix.levels[lv-1]))
	}
	var i int32
	if n := len(ix.freeInner); n > 0 {
		i = ix.freeInner[n-1]
		ix.freeInner = ix.freeInner[:n-1]
	} else {
		i = int32(len(ix.inner))
		ix.inner = append(ix.inner, innerNode{})
	}
	ix.inner[i] = innerNode{c: centerVec(cell), cell: cell, parent: parent}
	ix.cells[lv][cell] = i
	if parent >= 0 {
		ix.inner[parent].kids = append(ix.inner[parent].kids, i)
	} else {
		ix.roots = append(ix.roots, i)
	}
	return i
}

func (ix *Index) deleteLeaf(li int32) {
	l := &ix.leaves[li]
	delete(ix.cells[len(ix.levels)-1], l.cell)
	pi := l.parent
	*l = leafNode{}
	ix.freeLeaves = append(ix.freeLeaves, li)
	ix.inner[pi].kids = without(ix.inner[pi].kids, li)
	if ix.inner[pi].count == 0 {
		ix.deleteInner(len(ix.levels)-2, pi)
	}
}

func (ix *Index) deleteInner(lv int, i int32) {
	n := &ix.inner[i]
	delete(ix.cells[lv], n.cell)
	pi := n.parent
	*n = innerNode{}
	ix.freeInner = append(ix.freeInner, i)
	if pi < 0 {
		ix.roots = without(ix.roots, i)
		return
	}
	ix.inner[pi].kids = without(ix.inner[pi].kids, i)
	if ix.inner[pi].count == 0 {
		ix.deleteInner(lv-1, pi)
	}
}

// without removes v from s, not keeping order.
func without(s []int32, v int32) []int32 {
	for i, x := range s {
		if x == v {
			s[i] = s[len(s)-1]
			return s[:len(s)-1]
		}
	}
	return s
}
