package dispatch

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/jjj-social-work/dispatch/geo"
)

// surgePlace is a reference place of PRODUCT §10 with the share of the
// shared team living around it: Beijing about 56%, Tianjin 33%, Hebei 11%,
// after the head counts of PRODUCT §1.
type surgePlace struct {
	lat, lng, share float64
}

var surgeBenchPlaces = []surgePlace{
	{39.904, 116.407, .22},  // Beijing (Dongcheng)
	{39.912, 116.366, .18},  // Beijing Xicheng
	{39.910, 116.657, .16},  // Beijing Tongzhou
	{39.343, 117.362, .185}, // Tianjin
	{39.384, 117.044, .07},  // Tianjin Wuqing
	{38.938, 117.357, .07},  // Tianjin Jinnan
	{38.043, 114.515, .02},  // Shijiazhuang
	{38.883, 115.500, .015}, // Baoding (Lianchi)
	{39.486, 115.974, .01},  // Zhuozhou
	{39.538, 116.684, .01},  // Langfang
	{39.050, 115.870, .01},  // Xiong'an (Rongcheng)
	{38.930, 115.930, .005}, // Xiong'an (Anxin)
	{39.631, 118.180, .015}, // Tangshan
	{40.767, 114.886, .01},  // Zhangjiakou
	{40.951, 117.963, .01},  // Chengde
	{38.304, 116.839, .01},  // Cangzhou
}

// The flood of the benchmark: Zhuozhou, Baoding and Xiong'an.
var surgeBenchFlood = []surgePlace{
	{39.486, 115.974, 1}, {38.883, 115.500, 1}, {39.050, 115.870, 1}, {38.930, 115.930, 1},
}

const (
	surgeBenchWorkers = 100_000
	surgeBenchRows    = 1_000
	surgeBenchSkills  = 10
	surgeRoadFactor   = 1.3
	surgeSpeedMPS     = 40 / 3.6 // 40 km/h
)

// surgeScatter returns a point around c with a normal spread of sdKm.
func surgeScatter(rng *rand.Rand, c surgePlace, sdKm float64) geo.Point {
	const kmPerDegLat = 111.2
	kmPerDegLng := kmPerDegLat * math.Cos(c.lat*math.Pi/180)
	return geo.Point{
		Lat: c.lat + rng.NormFloat64()*sdKm/kmPerDegLat,
		Lng: c.lng + rng.NormFloat64()*sdKm/kmPerDegLng,
	}
}

type surgeBenchNeed struct {
	p     geo.Point
	skill uint
	cert  uint8 // minimum certification
}

// surgeBenchSetup builds the worker index and the open needs of a flood
// night: about 200 incidents with 1–10 needs each, 1,000 need slots in all.
func surgeBenchSetup(b *testing.B) (*geo.Index, []surgeBenchNeed) {
	rng := rand.New(rand.NewPCG(2023, 7))
	ix := geo.NewIndex()
	for id := range surgeBenchWorkers {
		x, place := rng.Float64(), surgeBenchPlaces[0]
		for _, p := range surgeBenchPlaces {
			if x < p.share {
				place = p
				break
			}
			x -= p.share
		}
		var skills uint64
		for s := range surgeBenchSkills {
			if rng.IntN(10) < 3 {
				skills |= 1 << s
			}
		}
		a := geo.Attrs{Skills: skills, Cert: uint8(rng.IntN(4)), Available: rng.IntN(10) != 0}
		if err := ix.Upsert(geo.ID(id), surgeScatter(rng, place, 8), a); err != nil {
			b.Fatal(err)
		}
	}
	var needs []surgeBenchNeed
	for len(needs) < surgeBenchRows {
		at := surgeScatter(rng, surgeBenchFlood[rng.IntN(len(surgeBenchFlood))], 10)
		for range min(1+rng.IntN(10), surgeBenchRows-len(needs)) {
			needs = append(needs, surgeBenchNeed{p: at, skill: uint(rng.IntN(surgeBenchSkills)), cert: uint8(rng.IntN(3))})
		}
	}
	return ix, needs
}

// BenchmarkSurge solves one flood-night surge against the real index:
// candidate lists come from Nearest, grown as the certificate asks.
// ms/surge is the time to a full assignment including the queries;
// query-ms/surge is the part spent in Nearest. The cached cases serve the
// same lists from memory, which leaves the solver's own time. "senior"
// asks the highest certification of every need, so that fewer workers
// qualify and the lists must grow.
func BenchmarkSurge(b *testing.B) {
	ix, needs := surgeBenchSetup(b)
	for _, tc := range []struct {
		name   string
		senior bool
	}{{"flood", false}, {"senior", true}} {
		var nbuf []geo.Neighbor
		var ebuf []SurgeEdge
		nearest := func(row, k int) []SurgeEdge {
			n := needs[row]
			f := geo.Filter{Skills: 1 << n.skill, MinCert: n.cert, OnlyAvailable: true}
			if tc.senior {
				f.MinCert = 3
			}
			var err error
			nbuf, err = ix.Nearest(n.p, k, f, nbuf[:0])
			if err != nil {
				b.Fatal(err)
			}
			ebuf = ebuf[:0]
			for _, nb := range nbuf {
				ebuf = append(ebuf, SurgeEdge{Worker: int32(nb.ID), Cost: nb.Meters * surgeRoadFactor / surgeSpeedMPS})
			}
			return ebuf
		}
		type key struct{ row, k int }
		cache := make(map[key][]SurgeEdge)
		cached := func(row, k int) []SurgeEdge {
			es, ok := cache[key{row, k}]
			if !ok {
				es = slices.Clone(nearest(row, k))
				cache[key{row, k}] = es
			}
			return es
		}
		b.Run(tc.name+"/nearest", func(b *testing.B) { surgeBenchRun(b, len(needs), nearest) })
		SolveSurge(len(needs), cached) // fills the cache
		b.Run(tc.name+"/cached", func(b *testing.B) { surgeBenchRun(b, len(needs), cached) })
	}
}

func surgeBenchRun(b *testing.B, rows int, candidates func(row, k int) []SurgeEdge) {
	var queryTime time.Duration
	queries := 0
	timed := func(row, k int) []SurgeEdge {
		t0 := time.Now()
		es := candidates(row, k)
		queryTime += time.Since(t0)
		queries++
		return es
	}
	var res SurgeResult
	for b.Loop() {
		res = SolveSurge(rows, timed)
	}
	if res.Filled != rows {
		b.Fatalf("filled %d of %d needs", res.Filled, rows)
	}
	perSurge := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 / float64(b.N) }
	b.ReportMetric(perSurge(b.Elapsed()), "ms/surge")
	b.ReportMetric(perSurge(queryTime), "query-ms/surge")
	b.ReportMetric(float64(queries)/float64(b.N), "queries/surge")
	b.ReportMetric(float64(res.Rounds), "rounds")
	b.ReportMetric(res.Total, "total-cost")
	b.ReportMetric(res.GreedyTotal, "greedy-total-cost")
	b.ReportMetric(res.Total/res.GreedyTotal, "cost-vs-greedy")
}
