package sim

import (
	"math"
	"math/rand/v2"

	"github.com/jjj-social-work/dispatch/geo"
)

// Random streams: each purpose draws from its own generator seeded from
// the scenario's seed, so changing the incidents does not reshuffle the
// team, and one worker's choices do not depend on another's.
const (
	streamTeam      = 1
	streamIncidents = 1 << 16 // + wave index
	streamWorker    = 1 << 32 // + member index
	streamLoad      = 1 << 48
)

func newRand(seed, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, stream))
}

// pickWeighted returns an index drawn with probability proportional to
// w[i]; w must have a positive sum.
func pickWeighted(r *rand.Rand, w []float64) int {
	sum := 0.0
	for _, x := range w {
		sum += x
	}
	u := r.Float64() * sum
	for i, x := range w {
		if u < x {
			return i
		}
		u -= x
	}
	return len(w) - 1
}

// pickKey draws a key of m by weight, over the keys in sorted order so the
// draw is repeatable.
func pickKey(r *rand.Rand, m map[string]float64) string {
	keys := sortedKeys(m)
	w := make([]float64, len(keys))
	for i, k := range keys {
		w[i] = m[k]
	}
	return keys[pickWeighted(r, w)]
}

func placeWeights(ps []Place) []float64 {
	w := make([]float64, len(ps))
	for i, p := range ps {
		w[i] = p.Weight
	}
	return w
}

const metresPerDegLat = 111_320.0

// around draws a point near p: a normal offset of SpreadKm per axis,
// clipped at three spreads so no member lands in the sea by chance.
func around(r *rand.Rand, p Place) geo.Point {
	dy := clip(r.NormFloat64(), 3) * p.SpreadKm * 1000
	dx := clip(r.NormFloat64(), 3) * p.SpreadKm * 1000
	return offset(geo.Point{Lat: p.Lat, Lng: p.Lng}, dx, dy)
}

// offset moves p by dx metres east and dy metres north (small distances).
func offset(p geo.Point, dx, dy float64) geo.Point {
	lat := p.Lat + dy/metresPerDegLat
	lng := p.Lng + dx/(metresPerDegLat*math.Cos(p.Lat*math.Pi/180))
	return geo.Point{Lat: math.Max(-89.9, math.Min(89.9, lat)), Lng: wrapLng(lng)}
}

func wrapLng(l float64) float64 {
	for l > 180 {
		l -= 360
	}
	for l < -180 {
		l += 360
	}
	return l
}

func clip(x, lim float64) float64 { return math.Max(-lim, math.Min(lim, x)) }

// between draws uniformly from [lo, hi].
func between(r *rand.Rand, lo, hi float64) float64 {
	if hi <= lo {
		return lo
	}
	return lo + r.Float64()*(hi-lo)
}
