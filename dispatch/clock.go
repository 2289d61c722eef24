package dispatch

import (
	"crypto/rand"
	"encoding/binary"
	"math"
	"time"

	"github.com/jjj-social-work/dispatch/geo"
)

// Clock tells the time. Tests replace it so that offer timeouts, rest
// limits and batching windows run without sleeping.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// ETA estimates travel time. The default is great-circle distance with a
// road factor at a fixed speed; a road-network service can replace it.
type ETA interface {
	Travel(from, to geo.Point) time.Duration
}

// ETABound is implemented by an ETA that never estimates less than
// MinTravel(meters) between two points that far apart (great-circle) and
// whose MinTravel grows with meters. With it the matcher's nearest-first
// search stops as soon as no farther worker can be cheaper, so its picks
// are exact; without it the matcher ranks Policy.Matching.CandidatePool
// nearest workers.
type ETABound interface {
	MinTravel(meters float64) time.Duration
}

// GreatCircleETA is the default ETA: distance × RoadFactor ÷ speed.
type GreatCircleETA struct {
	RoadFactor float64
	SpeedKmh   float64
}

// Travel estimates the travel time from one point to another.
func (g GreatCircleETA) Travel(from, to geo.Point) time.Duration {
	return g.MinTravel(geo.DistanceMeters(from, to))
}

// MinTravel is the estimate for a distance; Travel equals it, so it is a
// tight lower bound.
func (g GreatCircleETA) MinTravel(meters float64) time.Duration {
	s := meters * g.RoadFactor / (g.SpeedKmh / 3.6)
	return time.Duration(math.Min(s, 1e9) * float64(time.Second))
}

// newID returns prefix + a time-ordered, random id: 48 bits of
// milliseconds then 80 random bits, in Crockford base32. Ids sort by
// creation time and do not collide across restarts or nodes.
func newID(prefix string, now time.Time) string {
	const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	if _, err := rand.Read(b[6:]); err != nil {
		panic("dispatch: crypto/rand failed: " + err.Error()) // rand.Read never fails on supported platforms
	}
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	out := make([]byte, 0, len(prefix)+26)
	out = append(out, prefix...)
	// 128 bits as 26 base32 digits, most significant first.
	for i := 25; i >= 0; i-- {
		shift := uint(i * 5)
		var v uint64
		switch {
		case shift >= 64:
			v = hi >> (shift - 64)
		case shift == 0:
			v = lo
		default:
			v = lo>>shift | hi<<(64-shift)
		}
		out = append(out, alphabet[v&31])
	}
	return string(out)
}
