//go:build unix

package dispatch_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/jjj-social-work/dispatch/dispatch/diskstore"
	"github.com/jjj-social-work/dispatch/dispatch/memstore"
	"github.com/jjj-social-work/dispatch/dispatch/redisstore"
	"github.com/jjj-social-work/dispatch/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// nodesBenchWorkers is the roster on duty in BenchmarkNodes.
const nodesBenchWorkers = 10_000

// BenchmarkNodes measures whole assignments through engines on one Redis:
// each operation logs an incident needing one crisis-intervention worker
// (CreateIncident: match and claim, i.e. the offer), has the offered
// worker accept it (the assignment), then closes the incident, which
// frees the worker so that the roster never runs out: three commits.
// 16 callers run at once, spread over the nodes; the serial cases have
// one caller, for the latency of an operation that waits for no other.
//
//   - memstore: one engine on the in-memory store, the baseline: the
//     engine's own cost, no I/O;
//   - diskstore: one embedded node, fsync on every group commit;
//   - redis/nodes=1, redis/nodes=3: engines each with its own store
//     client on one redis-server (AOF everysec) started here, each
//     following the others' events.
//
// p50-ms and p99-ms are CreateIncident's latency (match + claim);
// assignments/s counts whole operations. redis-cpu-µs/asg is the
// server's CPU (INFO cpu) per operation, script-µs/asg the time its
// commit scripts ran (commandstats evalsha), commits/asg how many
// scripts it took (a lost race costs one more), rereads/asg how many
// reads of records the nodes made to follow each other's changes;
// go-cpu-µs/asg is this process's CPU: every engine, client and caller;
// cores is that and the server's CPU over the run's wall time.
func BenchmarkNodes(b *testing.B) {
	srv := redistest.Start(b, "--appendonly", "yes", "--appendfsync", "everysec", "--dir", b.TempDir())
	info := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	b.Cleanup(func() { info.Close() })
	var fleets int // each on a key prefix of its own

	for _, tc := range []struct {
		name   string
		store  string
		nodes  int
		serial bool // also measure one caller alone
	}{
		{"memstore", "memstore", 1, true},
		{"diskstore", "diskstore", 1, false},
		{"redis/nodes=1", "redis", 1, true},
		{"redis/nodes=3", "redis", 3, false},
	} {
		// A fresh roster and store for each -count repetition, whose first
		// round has b.N == 1, kept over the rounds that size b.N: engines
		// keep ended incidents, so state carried over would make later
		// repetitions slower than earlier ones.
		var f *benchFleet
		fleet := func(b *testing.B) *benchFleet {
			if f == nil || b.N == 1 {
				if f != nil {
					f.close()
				}
				fleets++
				f = &benchFleet{}
				f.start(b, tc.store, tc.nodes, srv.Addr(), fmt.Sprintf("bn%d", fleets))
			}
			return f
		}
		b.Run(tc.name, func(b *testing.B) { fleet(b).run(b, info, false) })
		if tc.serial {
			b.Run(tc.name+"/serial", func(b *testing.B) { fleet(b).run(b, info, true) })
		}
		if f != nil {
			f.close()
		}
	}
}

// benchFleet is engines on one store (or one Redis), each running.
type benchFleet struct {
	engines []*dispatch.Engine
	stores  []dispatch.Store
	redis   bool
	closers []func()
}

// close stops the engines and closes the stores, and lets go of them: the
// benchmark's closures outlive it, and a later run's GC would otherwise
// still walk this one's state.
func (f *benchFleet) close() {
	for _, c := range slices.Backward(f.closers) {
		c()
	}
	*f = benchFleet{}
}

func (f *benchFleet) start(b *testing.B, kind string, n int, addr, prefix string) {
	ctx := context.Background()
	pol := testPolicy() // no joint batches: every incident is matched at once
	for range n {
		var st dispatch.Store
		switch kind {
		case "memstore":
			st = memstore.New()
		case "diskstore":
			// Not b.TempDir: that goes when this round ends, and the fleet
			// serves the rounds after it.
			dir, err := os.MkdirTemp("", "nodes-bench-")
			if err != nil {
				b.Fatal(err)
			}
			f.closers = append(f.closers, func() { os.RemoveAll(dir) })
			ds, err := diskstore.Open(dir, diskstore.Options{})
			if err != nil {
				b.Fatal(err)
			}
			f.closers = append(f.closers, func() { ds.Close() })
			st = ds
		case "redis":
			rs, err := redisstore.Open(ctx, redisstore.Options{URL: "redis://" + addr, Prefix: prefix})
			if err != nil {
				b.Fatal(err)
			}
			f.closers = append(f.closers, func() { rs.Close() })
			st, f.redis = rs, true
		}
		e, err := dispatch.New(ctx, dispatch.Options{Store: st, Policy: &pol})
		if err != nil {
			b.Fatal(err)
		}
		rctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = e.Run(rctx)
		}()
		f.closers = append(f.closers, func() { stop(); <-done })
		f.engines, f.stores = append(f.engines, e), append(f.stores, st)
	}
	f.roster(b)
}

// roster puts nodesBenchWorkers crisis-intervention workers on duty around
// the PRODUCT §10 places, and waits until every node knows all of them.
func (f *benchFleet) roster(b *testing.B) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(2023, 8))
	ps := benchPlaces()
	in := make([]dispatch.WorkerInput, nodesBenchWorkers)
	for i := range in {
		pl := pickPlace(rng, ps)
		p := offset(pl.p, rng.NormFloat64()*8, rng.NormFloat64()*8)
		in[i] = dispatch.WorkerInput{ID: fmt.Sprintf("bw%05d", i), Name: "worker", Phone: "+86 138 0000 0000",
			HomeRegion: pl.region, Skills: []string{"crisis_intervention"}, Position: &p}
	}
	first := f.engines[0]
	for chunk := range slices.Chunk(in, 1000) {
		if err := first.UpsertWorkers(ctx, chunk); err != nil {
			b.Fatal(err)
		}
	}
	// Concurrently, so that group commits and the nodes' feeds share the work.
	var next atomic.Int64
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			e := f.engines[g%len(f.engines)]
			for i := int(next.Add(1) - 1); i < len(in); i = int(next.Add(1) - 1) {
				if err := e.SetDuty(ctx, in[i].ID, true); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	f.waitCaughtUp(b)
}

// caughtUp reports whether every node has applied the whole log: none
// finds an event after its position.
func (f *benchFleet) caughtUp() bool {
	for _, e := range f.engines {
		evs, err := f.stores[0].EventsAfter(context.Background(), e.LastSeq(), 1)
		if err != nil || len(evs) > 0 {
			return false
		}
	}
	return true
}

// waitCaughtUp waits until caughtUp, failing after a minute.
func (f *benchFleet) waitCaughtUp(b *testing.B) {
	deadline := time.Now().Add(time.Minute)
	for !f.caughtUp() {
		if time.Now().After(deadline) {
			b.Fatal("nodes still behind the log after a minute")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// run does b.N operations from 16 callers at once, caller i on node i
// mod nodes, or, serial, from one caller on the first node: latency
// without queueing behind other callers.
func (f *benchFleet) run(b *testing.B, info *redis.Client, serial bool) {
	ctx := context.Background()
	var (
		callers   atomic.Int64
		conflicts atomic.Int64
		unfilled  atomic.Int64
		mu        sync.Mutex
		lat       []time.Duration
	)
	caller := func(c int, next func() bool) {
		e := f.engines[c%len(f.engines)]
		rng := rand.New(rand.NewPCG(uint64(c), 11))
		ps := benchPlaces()
		mine := make([]time.Duration, 0, 1024)
		defer func() {
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
		for next() {
			pl := pickPlace(rng, ps)
			p := offset(pl.p, rng.NormFloat64()*10, rng.NormFloat64()*10)
			t0 := time.Now()
			inc, err := e.CreateIncident(ctx, crisisIncident(p, 1))
			if err != nil {
				if errors.Is(err, dispatch.ErrConflict) {
					conflicts.Add(1)
					continue
				}
				b.Errorf("create incident: %v", err)
				return
			}
			mine = append(mine, time.Since(t0))
			if inc.Slots[0].Assignment == "" {
				unfilled.Add(1)
			}
			if err := acceptAndClose(ctx, e, inc); err != nil {
				if errors.Is(err, dispatch.ErrConflict) {
					conflicts.Add(1)
					continue
				}
				b.Error(err)
				return
			}
		}
	}
	var before redistest.Usage
	if f.redis {
		before = redistest.ReadUsage(b, info)
	}
	cpu0 := processCPU()
	b.ResetTimer()
	if serial {
		i := 0
		caller(0, func() bool { i++; return i <= b.N })
	} else {
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) { caller(int(callers.Add(1)-1), pb.Next) })
	}
	b.StopTimer()
	// The other nodes' share of the work is done once they have applied
	// every change; only then is the CPU counted.
	f.waitCaughtUp(b)
	cpu := processCPU() - cpu0
	var used redistest.Usage
	if f.redis {
		used = redistest.ReadUsage(b, info).Since(before)
	}
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	n := float64(b.N)
	b.ReportMetric(0, "ns/op") // the rate below says the same, per second
	b.ReportMetric(pct(.50), "p50-ms")
	b.ReportMetric(pct(.99), "p99-ms")
	b.ReportMetric(n/b.Elapsed().Seconds(), "assignments/s")
	b.ReportMetric(cpu.Seconds()*1e6/n, "go-cpu-µs/asg")
	// Operations that ended without an assignment; none expected.
	if c := conflicts.Load(); c > 0 {
		b.ReportMetric(float64(c), "conflicts")
	}
	if u := unfilled.Load(); u > 0 {
		b.ReportMetric(float64(u), "unfilled")
	}
	// Of the machine's cores, how many this run kept busy: callers, engines
	// and redis-server together.
	b.ReportMetric((cpu.Seconds()+used.CPU)/b.Elapsed().Seconds(), "cores")
	if f.redis {
		b.ReportMetric(used.CPU*1e6/n, "redis-cpu-µs/asg")
		b.ReportMetric(used.Commands["evalsha"].Usec/n, "script-µs/asg")
		b.ReportMetric(used.Commands["evalsha"].Calls/n, "commits/asg")
		// Records, the rereads of other nodes' changes, is one MULTI each.
		b.ReportMetric(used.Commands["exec"].Calls/n, "rereads/asg")
	}
}

// acceptAndClose has the offered worker accept, then closes the incident,
// which ends the assignment and frees the worker.
func acceptAndClose(ctx context.Context, e *dispatch.Engine, inc dispatch.Incident) error {
	if id := inc.Slots[0].Assignment; id != "" {
		a, err := e.Assignment(id)
		if err != nil {
			return fmt.Errorf("assignment: %w", err)
		}
		if err := e.Answer(ctx, a.WorkerID, id, true, ""); err != nil {
			return fmt.Errorf("accept: %w", err)
		}
	}
	err := e.CloseIncident(ctx, dispatch.IncidentAction{IncidentID: inc.ID, By: "bench"})
	if err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return nil
}

// processCPU is this process's user and system time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
