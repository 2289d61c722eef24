package geo

// Test data and tuning knobs shared with the benchmarks in package geo_test.
var (
	ClusteredPoint = clusteredPoint
	SkilledAttrs   = skilledAttrs
	MoveBy         = moveBy
)

// NewIndexShape builds an index whose cells have the given resolutions
// (coarse to fine) and split above capacity workers; nil levels mean the
// defaults. alwaysCell disables the in-place move, as a baseline.
func NewIndexShape(levels []int, capacity int, alwaysCell bool) *Index {
	ix := NewIndex()
	if levels != nil {
		ix = newIndexLevels(levels, capacity)
	}
	ix.alwaysCell = alwaysCell
	return ix
}
