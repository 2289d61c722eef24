package geo

// Test data and tuning knobs shared with the benchmarks in package geo_test.
var (
	ClusteredPoint = clusteredPoint
	SkilledAttrs   = skilledAttrs
	MoveBy         = moveBy
)

// NewIndexShape builds an index whose cells range from resolution top to
// leaf and split above capacity workers; zeros mean the defaults.
// alwaysCell disables the in-place move, as a baseline.
func NewIndexShape(top, leaf, capacity int, alwaysCell bool) *Index {
	if leaf == 0 {
		top, leaf, capacity = defaultTopRes, defaultLeafRes, defaultCapacity
	}
	ix := newIndex(top, leaf, capacity)
	ix.alwaysCell = alwaysCell
	return ix
}
