package dispatch_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/jjj-social-work/dispatch/geo"
)

// benchPlace is a PRODUCT §10 place with its share of the national roster.
type benchPlace struct {
	p      geo.Point
	region string
	share  float64
}

func benchPlaces() []benchPlace {
	return []benchPlace{
		{dongcheng, "BJ", .22}, {xicheng, "BJ", .18}, {tongzhou, "BJ", .16},
		{tianjin, "TJ", .185}, {wuqing, "TJ", .07}, {geo.Point{Lat: 38.938, Lng: 117.357}, "TJ", .07},
		{geo.Point{Lat: 38.043, Lng: 114.515}, "HE", .02}, {geo.Point{Lat: 38.883, Lng: 115.500}, "HE", .015},
		{zhuozhou, "HE", .01}, {langfang, "HE", .01}, {rongcheng, "HE", .01},
		{geo.Point{Lat: 38.930, Lng: 115.930}, "HE", .005}, {geo.Point{Lat: 39.631, Lng: 118.180}, "HE", .015},
		{geo.Point{Lat: 40.767, Lng: 114.886}, "HE", .01}, {geo.Point{Lat: 40.951, Lng: 117.963}, "HE", .01},
		{geo.Point{Lat: 38.304, Lng: 116.839}, "HE", .01},
	}
}

func pickPlace(rng *rand.Rand, ps []benchPlace) benchPlace {
	x := rng.Float64()
	for _, p := range ps {
		if x < p.share {
			return p
		}
		x -= p.share
	}
	return ps[0]
}

// nationalRoster builds n workers clustered around the places: 70% on
// duty, random skills and certificates, a tenth supervisors.
func nationalRoster(rng *rand.Rand, n int) ([]dispatch.Worker, []geo.Point) {
	ps := benchPlaces()
	skills := dispatch.DefaultSkills()
	// A few shared skill lists: the roster's memory is what the index holds.
	lists := make([][]string, 64)
	for i := range lists {
		for j, s := range skills {
			if i>>uint(j%6)&1 == 1 || j == i%len(skills) {
				lists[i] = append(lists[i], s)
			}
		}
	}
	ws := make([]dispatch.Worker, n)
	pos := make([]geo.Point, n)
	for i := range ws {
		pl := pickPlace(rng, ps)
		ws[i] = dispatch.Worker{ID: fmt.Sprintf("n%07d", i), Name: "w", HomeRegion: pl.region,
			Cert: dispatch.Cert(rng.IntN(4)), Skills: lists[rng.IntN(len(lists))], Supervisor: rng.IntN(10) == 0,
			OnDuty: rng.IntN(10) < 7, DutySince: time.Date(2023, 7, 31, 6, 0, 0, 0, time.UTC)}
		pos[i] = offset(pl.p, rng.NormFloat64()*8, rng.NormFloat64()*8)
	}
	return ws, pos
}

type benchQuery struct {
	p      geo.Point
	region string
	need   dispatch.Need
	k      int
}

func benchQueries(rng *rand.Rand, n int) []benchQuery {
	ps := benchPlaces()
	qs := make([]benchQuery, n)
	for i := range qs {
		pl := pickPlace(rng, ps)
		qs[i] = benchQuery{p: offset(pl.p, rng.NormFloat64()*10, rng.NormFloat64()*10), region: pl.region,
			need: dispatch.Need{Skill: dispatch.DefaultSkills()[rng.IntN(10)], MinCert: dispatch.Cert(rng.IntN(3))},
			k:    1 + rng.IntN(3) + 3} // count plus three runners-up
	}
	return qs
}

func reportLatency(b *testing.B, ds []time.Duration) {
	slices.Sort(ds)
	q := func(f float64) float64 {
		return float64(ds[int(math.Min(float64(len(ds)-1), f*float64(len(ds))))].Microseconds())
	}
	b.ReportMetric(q(.50), "p50-µs")
	b.ReportMetric(q(.99), "p99-µs")
	b.ReportMetric(0, "ns/op") // the percentiles are the result
}

// BenchmarkMatchSingle ranks the cheapest eligible workers for one need
// among 1.5 million indexed workers, against a brute-force scan of all of
// them in the same run (-short: 100,000 workers). The create_incident case
// is the whole CreateIncident call on memstore: validation, matching,
// offers, JSON and commit.
func BenchmarkMatchSingle(b *testing.B) {
	n := 1_500_000
	if testing.Short() {
		n = 100_000
	}
	rng := rand.New(rand.NewPCG(2023, 7))
	r := newRig(b, testPolicy())
	ws, pos := nationalRoster(rng, n)
	start := time.Now()
	r.e.PutWorkersDirect(ws, pos)
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	b.Logf("indexed %d workers in %v, heap %d MiB", n, time.Since(start).Round(time.Millisecond), ms.HeapAlloc>>20)
	qs := benchQueries(rng, 4096)

	b.Run("index", func(b *testing.B) {
		ds := make([]time.Duration, 0, b.N)
		i := 0
		for b.Loop() {
			q := qs[i%len(qs)]
			i++
			t0 := time.Now()
			r.e.RankForTest(q.p, q.region, dispatch.SeverityII, q.need, q.k)
			ds = append(ds, time.Since(t0))
		}
		reportLatency(b, ds)
	})
	b.Run("brute", func(b *testing.B) {
		ds := make([]time.Duration, 0, b.N)
		i := 0
		for b.Loop() {
			q := qs[i%len(qs)]
			i++
			t0 := time.Now()
			want := r.e.BruteRankForTest(q.p, q.region, dispatch.SeverityII, q.need, q.k)
			ds = append(ds, time.Since(t0))
			b.StopTimer()
			if got := r.e.RankForTest(q.p, q.region, dispatch.SeverityII, q.need, q.k); !slices.Equal(names(got), names(want)) {
				b.Fatalf("query %d: index %v, brute force %v", i, names(got), names(want))
			}
			b.StartTimer()
		}
		reportLatency(b, ds)
	})
	b.Run("create_incident", func(b *testing.B) {
		ds := make([]time.Duration, 0, b.N)
		i := 0
		for b.Loop() {
			q := qs[i%len(qs)]
			i++
			t0 := time.Now()
			inc, err := r.e.CreateIncident(r.ctx, dispatch.IncidentInput{Type: "flood", Severity: dispatch.SeverityII, Position: q.p,
				Region: q.region, Needs: []dispatch.NeedInput{{Skill: q.need.Skill, Count: q.k - 3, MinCert: q.need.MinCert.String()}}})
			ds = append(ds, time.Since(t0))
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if err := r.e.CancelIncident(r.ctx, dispatch.IncidentAction{IncidentID: inc.ID, By: "bench"}); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		reportLatency(b, ds)
	})
}
