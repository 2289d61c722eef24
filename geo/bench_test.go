package geo_test

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/jjj-social-work/dispatch/geo"
	"github.com/jjj-social-work/dispatch/internal/redistest"
)

var large = flag.Bool("geo.large", false, "also run the 1M and 1.5M worker sizes of the geo benchmarks")

type size struct {
	name  string
	n     int
	large bool
}

var sizes = []size{
	{"10k", 10_000, false},
	{"100k", 100_000, false},
	{"1M", 1_000_000, true},
	{"1.5M", 1_500_000, true},
}

// forSizes runs fn as one sub-benchmark per size; the large ones need
// -geo.large so that a plain -bench run stays short.
func forSizes(b *testing.B, fn func(b *testing.B, n int)) {
	for _, s := range sizes {
		b.Run("n="+s.name, func(b *testing.B) {
			if s.large && !*large {
				b.Skip("large size: add -geo.large")
			}
			fn(b, s.n)
		})
	}
}

const (
	benchK     = 10
	numQueries = 4096
)

// benchFilter is passed by one worker in five (see SkilledAttrs).
var benchFilter = geo.Filter{Skills: 1}

// dataset is the city-clustered workforce of one size, built once per
// process and shared by the benchmarks.
type dataset struct {
	pts     []geo.Point
	attrs   []geo.Attrs
	queries []geo.Point
}

var (
	dataMu   sync.Mutex
	datasets = map[int]*dataset{}
)

func data(n int) *dataset {
	dataMu.Lock()
	defer dataMu.Unlock()
	if d, ok := datasets[n]; ok {
		return d
	}
	r := rand.New(rand.NewPCG(uint64(n), 2017))
	d := &dataset{pts: make([]geo.Point, n), attrs: make([]geo.Attrs, n)}
	for i := range n {
		d.pts[i] = geo.ClusteredPoint(r)
		d.attrs[i] = geo.SkilledAttrs(r)
	}
	// Incidents happen where people live: same mixture as the workers.
	for range numQueries {
		d.queries = append(d.queries, geo.ClusteredPoint(r))
	}
	datasets[n] = d
	return d
}

// shape is an index configuration: the resolutions a cell may have, coarse
// to fine, and the workers a cell holds before it splits; the zero shape
// is the default.
type shape struct {
	levels   []int
	capacity int
}

func (s shape) String() string { return fmt.Sprintf("levels=%v/cap=%d", s.levels, s.capacity) }

func span(top, leaf int) []int {
	var out []int
	for r := top; r <= leaf; r++ {
		out = append(out, r)
	}
	return out
}

func build(b *testing.B, d *dataset, sh shape, alwaysCell bool) *geo.Index {
	ix := geo.NewIndexShape(sh.levels, sh.capacity, alwaysCell)
	for i, p := range d.pts {
		if err := ix.Upsert(geo.ID(i), p, d.attrs[i]); err != nil {
			b.Fatal(err)
		}
	}
	return ix
}

var (
	indexMu sync.Mutex
	indexes = map[int]*geo.Index{}
)

func defaultIndex(b *testing.B, n int) *geo.Index {
	indexMu.Lock()
	defer indexMu.Unlock()
	if ix, ok := indexes[n]; ok {
		return ix
	}
	ix := build(b, data(n), shape{}, false)
	indexes[n] = ix
	return ix
}

// heapAfterGC is the live heap. Two collections, because pooled query
// state from an earlier index survives the first one.
func heapAfterGC() int64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// warm runs queries untimed, so the measured ones do not start on cold
// caches right after a build or a baseline.
func warm(ix *geo.Index, d *dataset) {
	var buf []geo.Neighbor
	for i := range 2000 {
		buf, _ = ix.Nearest(d.queries[(i*7)%numQueries], benchK, benchFilter, buf[:0])
	}
}

// percentile of sorted durations.
func percentile(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return float64(sorted[min(len(sorted)-1, int(q*float64(len(sorted))))])
}

// baselines are measured once per size, in the first run of the
// benchmark, on the same data and queries.
type baselines struct {
	bruteP50 float64
	redis    redisResult
}

var (
	baseMu  sync.Mutex
	baseRes = map[int]*baselines{}
)

// BenchmarkNearest measures k=10 nearest with a 1-in-5 skill filter on
// city-clustered data: the H3 index (ns/op, p50-ns, p99-ns), and in the
// same run a brute-force scan and Redis GEOSEARCH on a per-skill key.
func BenchmarkNearest(b *testing.B) {
	forSizes(b, func(b *testing.B, n int) {
		d := data(n)
		ix := defaultIndex(b, n)
		base := measureBaselines(b, n, d, ix)

		lat := make([]time.Duration, b.N)
		var buf []geo.Neighbor
		warm(ix, d)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			t0 := time.Now()
			buf, _ = ix.Nearest(d.queries[i%numQueries], benchK, benchFilter, buf[:0])
			lat[i] = time.Since(t0)
		}
		b.StopTimer()
		slices.Sort(lat)
		p50, p99 := percentile(lat, 0.5), percentile(lat, 0.99)
		b.ReportMetric(p50, "p50-ns")
		b.ReportMetric(p99, "p99-ns")
		b.ReportMetric(base.bruteP50, "brute-p50-ns")
		b.ReportMetric(base.redis.p50, "redis-p50-ns")
		b.ReportMetric(base.redis.p99, "redis-p99-ns")
		b.ReportMetric(base.redis.radius, "redis-start-m")
		b.ReportMetric(base.bruteP50/p50, "x-faster-than-brute")
		b.ReportMetric(base.redis.p50/p50, "x-faster-than-redis")
		b.ReportMetric(base.redis.p99/p99, "x-faster-than-redis-p99")
		b.ReportMetric(base.redis.bytesPerMember, "redis-bytes/member")
	})
}

func measureBaselines(b *testing.B, n int, d *dataset, ix *geo.Index) *baselines {
	baseMu.Lock()
	defer baseMu.Unlock()
	if r, ok := baseRes[n]; ok {
		return r
	}
	r := &baselines{}
	r.bruteP50 = measureBrute(b, d, ix)
	r.redis = measureRedis(b, d)
	baseRes[n] = r
	return r
}

// measureBrute times a scan over all workers (filter first, then the
// distance) and checks on the way that the index returns the same answer.
func measureBrute(b *testing.B, d *dataset, ix *geo.Index) float64 {
	q := max(20, min(500, 50_000_000/len(d.pts)))
	lat := make([]time.Duration, 0, q)
	for i := range q {
		p := d.queries[i]
		t0 := time.Now()
		want := bruteK(d, p, benchK)
		lat = append(lat, time.Since(t0))
		got, _ := ix.Nearest(p, benchK, benchFilter, nil)
		if !slices.Equal(got, want) {
			b.Fatalf("query %v: index got %v, brute force %v", p, got, want)
		}
	}
	slices.Sort(lat)
	return percentile(lat, 0.5)
}

func bruteK(d *dataset, p geo.Point, k int) []geo.Neighbor {
	best := make([]geo.Neighbor, 0, k+1)
	for i, w := range d.pts {
		if !benchFilter.Match(d.attrs[i]) {
			continue
		}
		m := geo.DistanceMeters(p, w)
		if len(best) == k && m > best[k-1].Meters {
			continue
		}
		nb := geo.Neighbor{ID: geo.ID(i), Meters: m}
		j, _ := slices.BinarySearchFunc(best, nb, func(a, b geo.Neighbor) int {
			if a.Meters != b.Meters {
				return cmpFloat(a.Meters, b.Meters)
			}
			return int(a.ID) - int(b.ID)
		})
		best = slices.Insert(best, j, nb)
		if len(best) > k {
			best = best[:k]
		}
	}
	return best
}

func cmpFloat(a, b float64) int {
	if a < b {
		return -1
	}
	return 1
}

// Redis: only workers passing the filter go into the key (one key per
// skill is the fair Redis design), then GEOSEARCH ... ASC COUNT k with the
// radius doubled until k members come back. The starting radius matters
// (too small costs round trips, too large scans members), so each of these
// is measured and the fastest at the median stands for Redis.
var redisStartRadii = []float64{250, 1000, 4000}

type redisResult struct {
	p50, p99       float64
	radius         float64 // the starting radius of the fastest variant
	bytesPerMember float64
}

func measureRedis(b *testing.B, d *dataset) redisResult {
	srv := redistest.Start(b)
	defer srv.Kill()
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()

	before := usedMemory(b, rdb)
	const key = "workers:skill:0"
	members := 0
	batch := make([]*redis.GeoLocation, 0, 10_000)
	flush := func() {
		if len(batch) > 0 {
			if err := rdb.GeoAdd(ctx, key, batch...).Err(); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	for i, p := range d.pts {
		if !benchFilter.Match(d.attrs[i]) {
			continue
		}
		batch = append(batch, &redis.GeoLocation{Name: strconv.Itoa(i), Longitude: p.Lng, Latitude: p.Lat})
		members++
		if len(batch) == cap(batch) {
			flush()
		}
	}
	flush()
	best := redisResult{p50: math.Inf(1), bytesPerMember: float64(usedMemory(b, rdb)-before) / float64(members)}

	const q = 2000
	for _, start := range redisStartRadii {
		lat := make([]time.Duration, 0, q)
		for i := range q {
			p := d.queries[i%numQueries]
			t0 := time.Now()
			for radius := start; ; radius *= 2 {
				res, err := rdb.GeoSearch(ctx, key, &redis.GeoSearchQuery{
					Longitude: p.Lng, Latitude: p.Lat, Radius: radius, RadiusUnit: "m", Sort: "ASC", Count: benchK,
				}).Result()
				if err != nil {
					b.Fatal(err)
				}
				if len(res) == benchK || radius > 2e7 {
					break
				}
			}
			lat = append(lat, time.Since(t0))
		}
		slices.Sort(lat)
		if p50 := percentile(lat, 0.5); p50 < best.p50 {
			best.p50, best.p99, best.radius = p50, percentile(lat, 0.99), start
		}
		b.Logf("redis GEOSEARCH from %.0f m: p50 %.0f ns, p99 %.0f ns", start, percentile(lat, 0.5), percentile(lat, 0.99))
	}
	return best
}

func usedMemory(b *testing.B, rdb *redis.Client) int64 {
	info, err := rdb.InfoMap(context.Background(), "memory").Result()
	if err != nil {
		b.Fatal(err)
	}
	v, err := strconv.ParseInt(info["Memory"]["used_memory"], 10, 64)
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// BenchmarkMove measures position updates on one goroutine, each worker
// moving up to 50 m, workers taken in a fixed random order as updates from
// phones would arrive. The baseline, in the same run on its own copy of
// the index, asks h3 for the cell on every update.
func BenchmarkMove(b *testing.B) {
	forSizes(b, func(b *testing.B, n int) {
		d := data(n)
		steps := moveSteps()
		order := rand.New(rand.NewPCG(7, 7)).Perm(n)
		run := func(ix *geo.Index, count int) time.Duration {
			cur := slices.Clone(d.pts)
			t0 := time.Now()
			for i := range count {
				id := order[i%n]
				cur[id] = offset(cur[id], steps[i%len(steps)])
				if ok, err := ix.Move(geo.ID(id), cur[id]); !ok || err != nil {
					b.Fatalf("Move(%d): %v %v", id, ok, err)
				}
			}
			return time.Since(t0)
		}
		baseline := build(b, d, shape{}, true)
		baseT := run(baseline, b.N)
		baseline = nil
		ix := build(b, d, shape{}, false)
		b.ResetTimer()
		t := run(ix, b.N)
		b.StopTimer()
		perSec := float64(b.N) / t.Seconds()
		basePerSec := float64(b.N) / baseT.Seconds()
		b.ReportMetric(perSec, "updates/s")
		b.ReportMetric(basePerSec, "baseline-updates/s")
		b.ReportMetric(perSec/basePerSec, "x-faster-than-baseline")
	})
}

// moveSteps are displacements of up to 50 m, as degrees at 39.5°N.
func moveSteps() []geo.Point {
	r := rand.New(rand.NewPCG(50, 50))
	out := make([]geo.Point, 1<<16)
	for i := range out {
		m := r.Float64() * 50
		th := r.Float64() * 2 * math.Pi
		out[i] = geo.Point{Lat: m * math.Cos(th) / 111320, Lng: m * math.Sin(th) / (111320 * math.Cos(39.5*math.Pi/180))}
	}
	return out
}

func offset(p, by geo.Point) geo.Point { return geo.Point{Lat: p.Lat + by.Lat, Lng: p.Lng + by.Lng} }

// BenchmarkIndexMemory reports the heap the index holds per worker, after
// GC, not counting the input slices. It builds once whatever b.N is; its
// ns/op is the build time divided by b.N and means nothing.
func BenchmarkIndexMemory(b *testing.B) {
	forSizes(b, func(b *testing.B, n int) {
		d := data(n)
		before := heapAfterGC()
		ix := build(b, d, shape{}, false)
		b.ReportMetric(float64(heapAfterGC()-before)/float64(n), "bytes/worker")
		runtime.KeepAlive(ix)
	})
}

// BenchmarkNearestUnderUpdates measures query latency while another
// goroutine moves workers at the §7 rate (every worker every 30 s), to
// show what the single RWMutex costs readers.
func BenchmarkNearestUnderUpdates(b *testing.B) {
	forSizes(b, func(b *testing.B, n int) {
		d := data(n)
		ix := defaultIndex(b, n)
		rate := float64(n) / 30 // updates per second
		steps := moveSteps()
		var stop atomic.Bool
		var moved atomic.Int64
		done := make(chan struct{})
		go func() {
			defer close(done)
			cur := make(map[int]geo.Point)
			t0 := time.Now()
			for i := 0; !stop.Load(); i++ {
				// Pace in bursts of 100 to keep the clock off the hot path.
				if i%100 == 0 {
					if ahead := time.Duration(float64(i)/rate*1e9) - time.Since(t0); ahead > 0 {
						time.Sleep(ahead)
					}
				}
				id := (i * 7919) % n
				p, ok := cur[id]
				if !ok {
					p, _, _ = ix.Get(geo.ID(id))
				}
				p = offset(p, steps[i%len(steps)])
				cur[id] = p
				ix.Move(geo.ID(id), p)
				moved.Add(1)
			}
		}()
		lat := make([]time.Duration, b.N)
		var buf []geo.Neighbor
		warm(ix, d)
		b.ResetTimer()
		t0 := time.Now()
		for i := range b.N {
			q0 := time.Now()
			buf, _ = ix.Nearest(d.queries[i%numQueries], benchK, benchFilter, buf[:0])
			lat[i] = time.Since(q0)
		}
		el := time.Since(t0)
		b.StopTimer()
		stop.Store(true)
		<-done
		slices.Sort(lat)
		b.ReportMetric(percentile(lat, 0.5), "p50-ns")
		b.ReportMetric(percentile(lat, 0.99), "p99-ns")
		b.ReportMetric(float64(moved.Load())/el.Seconds(), "updates/s")
	})
}

// BenchmarkNearestParallel runs queries from GOMAXPROCS goroutines under
// the shared read lock; compare its ns/op with BenchmarkNearest's to see
// how readers scale.
func BenchmarkNearestParallel(b *testing.B) {
	forSizes(b, func(b *testing.B, n int) {
		d := data(n)
		ix := defaultIndex(b, n)
		warm(ix, d)
		var next atomic.Int64
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			var buf []geo.Neighbor
			for pb.Next() {
				i := next.Add(1)
				buf, _ = ix.Nearest(d.queries[i%numQueries], benchK, benchFilter, buf[:0])
			}
		})
	})
}

// BenchmarkShapes compares index shapes on the same data: query latency,
// memory per worker and update rate. It is how the defaults were chosen.
func BenchmarkShapes(b *testing.B) {
	shapes := []shape{
		{span(2, 10), 16},
		{span(2, 10), 32},
		{span(2, 10), 64},
		{span(2, 10), 128},
		{span(2, 9), 64},
		{span(2, 11), 64},
		{span(1, 10), 64},
		{span(3, 10), 64},
		{[]int{2, 4, 6, 8, 9, 10}, 64},
		{[]int{2, 4, 6, 8, 10}, 64},
	}
	forSizes(b, func(b *testing.B, n int) {
		d := data(n)
		steps := moveSteps()
		for _, sh := range shapes {
			b.Run(sh.String(), func(b *testing.B) {
				before := heapAfterGC()
				ix := build(b, d, sh, false)
				perWorker := float64(heapAfterGC()-before) / float64(n)
				lat := make([]time.Duration, b.N)
				var buf []geo.Neighbor
				warm(ix, d)
				b.ResetTimer()
				for i := range b.N {
					t0 := time.Now()
					buf, _ = ix.Nearest(d.queries[i%numQueries], benchK, benchFilter, buf[:0])
					lat[i] = time.Since(t0)
				}
				b.StopTimer()
				cur := slices.Clone(d.pts)
				moves := min(n, 500_000)
				t0 := time.Now()
				for i := range moves {
					cur[i] = offset(cur[i], steps[i%len(steps)])
					ix.Move(geo.ID(i), cur[i])
				}
				el := time.Since(t0)
				slices.Sort(lat)
				b.ReportMetric(percentile(lat, 0.5), "p50-ns")
				b.ReportMetric(percentile(lat, 0.99), "p99-ns")
				b.ReportMetric(perWorker, "bytes/worker")
				b.ReportMetric(float64(moves)/el.Seconds(), "updates/s")
				runtime.KeepAlive(ix)
			})
		}
	})
}

// BenchmarkCountByCell measures the dashboard aggregate at resolution 5.
func BenchmarkCountByCell(b *testing.B) {
	forSizes(b, func(b *testing.B, n int) {
		ix := defaultIndex(b, n)
		b.ResetTimer()
		for range b.N {
			ix.CountByCell(5, benchFilter)
		}
	})
}
