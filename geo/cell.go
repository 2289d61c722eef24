package geo

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/uber/h3-go/v4"
)

// Cell is an H3 cell index. It is its own type so that callers never import
// h3-go (cgo) themselves.
type Cell uint64

// MaxResolution is the finest H3 resolution.
const MaxResolution = 15

// ErrInvalidResolution is returned for a resolution outside 0..MaxResolution.
var ErrInvalidResolution = errors.New("invalid h3 resolution")

// ErrInvalidCell is returned when a string or number is not a valid H3 cell.
var ErrInvalidCell = errors.New("invalid h3 cell")

// CellOf returns the cell at resolution res that contains p.
func CellOf(p Point, res int) (Cell, error) {
	if err := p.Validate(); err != nil {
		return 0, err
	}
	if res < 0 || res > MaxResolution {
		return 0, fmt.Errorf("cell of point: %w: %d", ErrInvalidResolution, res)
	}
	return Cell(latLngToCell(p, res)), nil
}

// ParseCell reads the hexadecimal form written by String. It rejects
// anything that is not a valid cell, so a dashboard can take cells from URLs.
func ParseCell(s string) (Cell, error) {
	v, err := strconv.ParseUint(s, 16, 64)
	if err != nil || !h3.Cell(int64(v)).IsValid() {
		return 0, fmt.Errorf("parse cell %q: %w", s, ErrInvalidCell)
	}
	return Cell(v), nil
}

// String is the usual lowercase hexadecimal H3 form, e.g. "8831aa4287fffff".
func (c Cell) String() string { return strconv.FormatUint(uint64(c), 16) }

// MarshalText makes a map[Cell]int encode with H3 strings as JSON keys.
func (c Cell) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText accepts only valid cells.
func (c *Cell) UnmarshalText(b []byte) error {
	v, err := ParseCell(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// Valid reports whether c is a valid H3 cell.
func (c Cell) Valid() bool { return h3.Cell(int64(c)).IsValid() }

// Res is the cell's resolution, read from the index bits.
func (c Cell) Res() int { return int(uint64(c) >> resShift & 0xf) }

// Parent returns the cell at the coarser resolution res that contains c.
// It returns c when res is not coarser, and 0 when c or res is invalid.
func (c Cell) Parent(res int) Cell {
	if res < 0 || res > MaxResolution || !c.Valid() {
		return 0
	}
	if res >= c.Res() {
		return c
	}
	return Cell(parentBits(uint64(c), res))
}

// Boundary is the cell's outline, counter-clockwise, without repeating the
// first vertex. It is nil for an invalid cell.
func (c Cell) Boundary() []Point {
	if !c.Valid() {
		return nil
	}
	b := h3.CellToBoundary(h3.Cell(int64(c)))
	out := make([]Point, len(b))
	for i, v := range b {
		out[i] = Point{Lat: v.Lat, Lng: v.Lng}
	}
	return out
}

// Center is the cell's centre point. It is the zero Point for an invalid cell.
func (c Cell) Center() Point {
	if !c.Valid() {
		return Point{}
	}
	ll := h3.CellToLatLng(h3.Cell(int64(c)))
	return Point{Lat: ll.Lat, Lng: ll.Lng}
}

// H3 index layout: bits 52..55 hold the resolution, then 15 digits of 3 bits
// from bit 44 down; digits finer than the resolution are all ones (7).
const resShift = 52

// parentBits is cellToParent without a cgo call: set the resolution field
// and mark every finer digit unused. res must not be finer than c's.
func parentBits(c uint64, res int) uint64 {
	c = c&^(0xf<<resShift) | uint64(res)<<resShift
	return c | (1<<(3*(MaxResolution-res)) - 1)
}

// latLngToCell expects a validated point and resolution.
func latLngToCell(p Point, res int) uint64 {
	return uint64(h3.LatLngToCell(h3.LatLng{Lat: p.Lat, Lng: p.Lng}, res))
}

// vec3 is a point on the unit sphere. Chord lengths between vec3s obey the
// Euclidean triangle inequality, which is what the search's bounds rest on.
type vec3 struct{ x, y, z float64 }

func toVec(p Point) vec3 {
	sLat, cLat := math.Sincos(p.Lat * degToRad)
	sLng, cLng := math.Sincos(p.Lng * degToRad)
	return vec3{cLat * cLng, cLat * sLng, sLat}
}

func (a vec3) sub(b vec3) vec3    { return vec3{a.x - b.x, a.y - b.y, a.z - b.z} }
func (a vec3) dot(b vec3) float64 { return a.x*b.x + a.y*b.y + a.z*b.z }
func (a vec3) cross(b vec3) vec3 {
	return vec3{a.y*b.z - a.z*b.y, a.z*b.x - a.x*b.z, a.x*b.y - a.y*b.x}
}
func (a vec3) norm() float64         { return math.Sqrt(a.dot(a)) }
func (a vec3) chord2(b vec3) float64 { d := a.sub(b); return d.dot(d) }

// cellGeom is what the index needs from h3 about a cell: its centre, a
// chord radius that contains the whole cell and one of a circle inside it.
type cellGeom struct {
	c     vec3
	outer float64 // chord, >= distance from c to every vertex
	inner float64 // chord, <= distance from c to every edge
}

// Rounding margins, in radians of arc (1e-9 rad is 6 mm on the ground). The
// outer radius is widened and the inner one narrowed by these; both are far
// larger than double-precision error and far smaller than a cell.
const (
	arcMarginRel = 1e-7
	arcMarginAbs = 1e-8
)

func geomOf(cell uint64) cellGeom {
	hc := h3.Cell(int64(cell))
	ll := h3.CellToLatLng(hc)
	c := toVec(Point{ll.Lat, ll.Lng})
	b := h3.CellToBoundary(hc)
	vs := make([]vec3, len(b))
	for i, v := range b {
		vs[i] = toVec(Point{v.Lat, v.Lng})
	}
	outer, inner := 0.0, math.Pi
	for i, v := range vs {
		outer = math.Max(outer, c.sub(v).norm())
		// The arc from c to the great circle through an edge is asin(|c·n|)
		// with n the edge's unit normal; it never exceeds the distance to
		// the edge segment itself, so the minimum is a safe inner radius.
		n := v.cross(vs[(i+1)%len(vs)])
		inner = math.Min(inner, math.Asin(math.Min(1, math.Abs(c.dot(n))/n.norm())))
	}
	outerArc := 2 * math.Asin(math.Min(1, outer/2))
	return cellGeom{
		c:     c,
		outer: arcToChord(outerArc*(1+arcMarginRel) + arcMarginAbs),
		inner: arcToChord(inner*(1-arcMarginRel) - arcMarginAbs),
	}
}

func centerVec(cell uint64) vec3 {
	ll := h3.CellToLatLng(h3.Cell(int64(cell)))
	return toVec(Point{ll.Lat, ll.Lng})
}

// arcToChord converts an angle in radians to the chord length on the unit
// sphere; negative angles give 0 and angles past pi give the diameter.
func arcToChord(a float64) float64 {
	switch {
	case a <= 0:
		return 0
	case a >= math.Pi:
		return 2
	}
	return 2 * math.Sin(a/2)
}
