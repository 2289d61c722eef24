// Package geo holds workers' positions in an H3 index and answers
// nearest-k queries that equal a brute-force scan. It is the only package
// that imports h3-go (cgo); everything above it sees plain value types.
package geo

import (
	"errors"
	"fmt"
	"math"
)

// Point is a WGS-84 position in degrees.
type Point struct {
	Lat float64 `json:"lat"`
	Lng float64 `json:"lng"`
}

// ErrInvalidPoint is matched (errors.Is) by every *PointError.
var ErrInvalidPoint = errors.New("invalid point")

// PointError names the coordinate that is not a finite, in-range number.
type PointError struct {
	Field string // "lat" or "lng"
	Value float64
}

func (e *PointError) Error() string {
	return fmt.Sprintf("invalid %s: %v", e.Field, e.Value)
}

// Is makes errors.Is(err, ErrInvalidPoint) true.
func (e *PointError) Is(target error) bool { return target == ErrInvalidPoint }

// Validate rejects NaN, ±Inf, |lat| > 90 and |lng| > 180. h3-go maps NaN to
// cell 0 and wraps out-of-range latitudes silently, so nothing reaches it
// unchecked.
func (p Point) Validate() error {
	if math.IsNaN(p.Lat) || math.IsInf(p.Lat, 0) || p.Lat < -90 || p.Lat > 90 {
		return &PointError{Field: "lat", Value: p.Lat}
	}
	if math.IsNaN(p.Lng) || math.IsInf(p.Lng, 0) || p.Lng < -180 || p.Lng > 180 {
		return &PointError{Field: "lng", Value: p.Lng}
	}
	return nil
}

// EarthRadiusMeters is the mean Earth radius used for great-circle distances.
const EarthRadiusMeters = 6371008.8

// DistanceMeters is the great-circle (haversine) distance between a and b.
// Nearest ranks by exactly this value: both go through origin.meters, so a
// search and a brute-force scan see the same floating-point numbers.
func DistanceMeters(a, b Point) float64 {
	o := newOrigin(a)
	return metersOf(o.hav(b))
}

const degToRad = math.Pi / 180

// origin holds the parts of the haversine formula that depend only on the
// first point, so a search computes them once per query, not per worker.
type origin struct {
	lat    float64 // radians
	lng    float64 // degrees, subtracted before scaling as in the formula
	cosLat float64
	sinLat float64
}

func newOrigin(a Point) origin {
	lat := a.Lat * degToRad
	s, c := math.Sincos(lat)
	return origin{lat: lat, lng: a.Lng, cosLat: c, sinLat: s}
}

// hav is the haversine term for b; metersOf turns it into the distance.
// They are split so a search can reject a worker on the term alone. The
// second latitude's cosine comes from the angle-sum identity, which needs
// only sin(dLat/2), already at hand: no third transcendental call.
func (o *origin) hav(b Point) float64 {
	dLat := b.Lat*degToRad - o.lat
	dLng := (b.Lng - o.lng) * degToRad
	sLat := sinHalf(dLat)
	sLng := sinHalf(dLng)
	cLat := math.Sqrt(1 - sLat*sLat) // cos(dLat/2) >= 0, as |dLat| <= pi
	// cos(lat1+dLat) = cos lat1 (1 - 2 sin^2(dLat/2)) - sin lat1 * 2 sin(dLat/2) cos(dLat/2)
	cos2 := max(0, o.cosLat*(1-2*sLat*sLat)-o.sinLat*2*sLat*cLat)
	return sLat*sLat + o.cosLat*cos2*sLng*sLng
}

func metersOf(h float64) float64 {
	return 2 * EarthRadiusMeters * math.Asin(math.Min(1, math.Sqrt(h)))
}

// sinHalf is sin(x/2). Between workers a few kilometres apart x/2 is tiny,
// where the Taylor series to the x^11 term is exact to double precision
// (the next term is below 1e-22 of the result) and several times cheaper
// than math.Sin.
func sinHalf(x float64) float64 {
	y := x / 2
	if y > 0.125 || y < -0.125 {
		return math.Sin(y)
	}
	y2 := y * y
	// Horner form with reciprocals: divisions would cost more than math.Sin.
	return y * (1 - y2*(1.0/6)*(1-y2*(1.0/20)*(1-y2*(1.0/42)*(1-y2*(1.0/72)*(1-y2*(1.0/110))))))
}
