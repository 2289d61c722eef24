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
}

func newOrigin(a Point) origin {
	lat := a.Lat * degToRad
	return origin{lat: lat, lng: a.Lng, cosLat: math.Cos(lat)}
}

// hav is the haversine term for b; metersOf turns it into the distance.
// They are split so a search can reject a worker on the term alone.
func (o *origin) hav(b Point) float64 {
	lat2 := b.Lat * degToRad
	dLat := lat2 - o.lat
	dLng := (b.Lng - o.lng) * degToRad
	sLat := math.Sin(dLat / 2)
	sLng := math.Sin(dLng / 2)
	return sLat*sLat + o.cosLat*math.Cos(lat2)*sLng*sLng
}

func metersOf(h float64) float64 {
	return 2 * EarthRadiusMeters * math.Asin(math.Min(1, math.Sqrt(h)))
}
