package geo

import (
	"math"
	"math/rand/v2"
)

// place is a population centre from PRODUCT.md §10 with a rough weight
// (millions of inhabitants it stands for) and a spread.
type place struct {
	lat, lng, weight, sigmaKm float64
}

var places = []place{
	{39.904, 116.407, 9, 15},  // Beijing (Dongcheng)
	{39.912, 116.366, 4, 8},   // Beijing Xicheng
	{39.910, 116.657, 3, 10},  // Beijing Tongzhou
	{39.343, 117.362, 7, 15},  // Tianjin
	{39.384, 117.044, 1.2, 8}, // Tianjin Wuqing
	{38.938, 117.357, 1, 6},   // Tianjin Jinnan
	{38.043, 114.515, 6, 15},  // Shijiazhuang
	{38.883, 115.500, 5, 15},  // Baoding (Lianchi)
	{39.486, 115.974, 0.7, 5}, // Zhuozhou
	{39.538, 116.684, 2.5, 10},
	{39.050, 115.870, 0.6, 4}, // Xiong'an (Rongcheng)
	{38.930, 115.930, 0.5, 4}, // Xiong'an (Anxin)
	{39.631, 118.180, 4.5, 15},
	{40.767, 114.886, 2, 10},   // Zhangjiakou
	{40.951, 117.963, 1.5, 10}, // Chengde
	{38.304, 116.839, 3, 12},   // Cangzhou
}

// Beijing–Tianjin–Hebei bounding box, for the rural (uniform) share.
const (
	minLat, maxLat = 36.05, 42.6
	minLng, maxLng = 113.5, 119.8
	ruralShare     = 0.15
)

// clusteredPoint draws from the city mixture: 85% gaussian around the
// places by weight, 15% uniform over the region.
func clusteredPoint(r *rand.Rand) Point {
	if r.Float64() < ruralShare {
		return uniformPoint(r)
	}
	total := 0.0
	for _, pl := range places {
		total += pl.weight
	}
	x := r.Float64() * total
	pl := places[len(places)-1]
	for _, c := range places {
		if x < c.weight {
			pl = c
			break
		}
		x -= c.weight
	}
	const kmPerDeg = 111.32
	lat := pl.lat + r.NormFloat64()*pl.sigmaKm/kmPerDeg
	lng := pl.lng + r.NormFloat64()*pl.sigmaKm/(kmPerDeg*math.Cos(pl.lat*degToRad))
	return Point{Lat: lat, Lng: lng}
}

func uniformPoint(r *rand.Rand) Point {
	return Point{Lat: minLat + r.Float64()*(maxLat-minLat), Lng: minLng + r.Float64()*(maxLng-minLng)}
}

// edgePoint lies within about a metre of an edge of a res-9 cell near
// Beijing, on either side, and sometimes exactly on a vertex.
func edgePoint(r *rand.Rand) Point {
	center := Point{Lat: 39.904 + r.NormFloat64()*0.02, Lng: 116.407 + r.NormFloat64()*0.02}
	c, _ := CellOf(center, 9)
	b := c.Boundary()
	i := r.IntN(len(b))
	a, z := b[i], b[(i+1)%len(b)]
	t := r.Float64()
	if r.IntN(8) == 0 {
		t = 0
	}
	jitter := func() float64 { return (r.Float64()*2 - 1) * math.Pow(10, -5-4*r.Float64()) }
	return Point{Lat: a.Lat + t*(z.Lat-a.Lat) + jitter(), Lng: a.Lng + t*(z.Lng-a.Lng) + jitter()}
}

func randomAttrs(r *rand.Rand) Attrs {
	return Attrs{Skills: r.Uint64() & 0xff, Cert: uint8(r.IntN(4)), Available: r.IntN(10) < 7}
}

// skilledAttrs gives skill bit 0 to one worker in five, the benchmarks'
// filter.
func skilledAttrs(r *rand.Rand) Attrs {
	a := Attrs{Skills: r.Uint64() &^ 1, Cert: uint8(r.IntN(4)), Available: true}
	if r.IntN(5) == 0 {
		a.Skills |= 1
	}
	return a
}

// moveBy returns p moved by at most maxM metres in a random direction.
func moveBy(r *rand.Rand, p Point, maxM float64) Point {
	d := r.Float64() * maxM
	th := r.Float64() * 2 * math.Pi
	const mPerDeg = 111320.0
	q := Point{
		Lat: p.Lat + d*math.Cos(th)/mPerDeg,
		Lng: p.Lng + d*math.Sin(th)/(mPerDeg*math.Cos(p.Lat*degToRad)),
	}
	q.Lat = math.Max(-90, math.Min(90, q.Lat))
	q.Lng = math.Max(-180, math.Min(180, q.Lng))
	return q
}
