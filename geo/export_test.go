package geo

// Test data and tuning knobs shared with the benchmarks in package geo_test.
var (
	ClusteredPoint = clusteredPoint
	SkilledAttrs   = skilledAttrs
	MoveBy         = moveBy
)

// NewIndexLevels builds an index over the given resolutions (coarse to
// fine); alwaysCell disables the in-place move, as a baseline.
func NewIndexLevels(levels []int, alwaysCell bool) *Index {
	ix := newIndex(levels)
	ix.alwaysCell = alwaysCell
	return ix
}
