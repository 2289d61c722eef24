package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/jjj-social-work/dispatch/dispatch/diskstore"
	"github.com/jjj-social-work/dispatch/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// benchParallelism is goroutines per GOMAXPROCS committing at once: many
// engine operations in flight, as on a busy node.
const benchParallelism = 8

var (
	offerData  = json.RawMessage(`{"incident_id":"i_01h8xq3k5m7n9p1r3s5t7v9x1z","slot":0,"eta_s":540,"distance_m":4210,"expires_at":"2023-07-31T08:02:00Z"}`)
	assignment = json.RawMessage(`{"id":"a","incident_id":"i_01h8xq3k5m7n9p1r3s5t7v9x1z","worker_id":"w","slot":0,"state":"offered","offered_at":"2023-07-31T08:00:00Z","expires_at":"2023-07-31T08:02:00Z","eta_s":540}`)
	workerRec  = json.RawMessage(`{"id":"w","name":"Worker","region":"BJ","skills":["counselling","child_protection"],"status":"offered","certified":true}`)
)

// offerBatch is what offering an assignment writes: the worker's claim, two
// events and two records. Every n is a new worker, so no claim conflicts.
func offerBatch(n uint64) dispatch.Batch {
	w := fmt.Sprintf("w_01h8xq3k5m7n9p1r3s%08d", n)
	a := fmt.Sprintf("a_01h8xq3k5m7n9p1r3s%08d", n)
	return dispatch.Batch{
		Claims: []dispatch.Claim{{WorkerID: w, AssignmentID: a}},
		Events: []dispatch.Event{
			{Type: "assignment.offered", Region: "BJ", WorkerID: w, IncidentID: "i_01h8xq3k5m7n9p1r3s5t7v9x1z", AssignmentID: a, Data: offerData},
			{Type: "worker.status", Region: "BJ", WorkerID: w, Data: json.RawMessage(`{"status":"offered"}`)},
		},
		Records: []dispatch.Record{
			{Kind: dispatch.KindAssignment, ID: a, Value: assignment},
			{Kind: dispatch.KindWorker, ID: w, Value: workerRec},
		},
	}
}

// benchClient is a client whose read timeout outlasts a slow fsync: with
// appendfsync always on a busy disk a reply can take seconds, and the
// benchmark measures that rather than failing on it.
func benchClient(b *testing.B, addr string) redis.UniversalClient {
	b.Helper()
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{addr}, ReadTimeout: 30 * time.Second})
	b.Cleanup(func() { rdb.Close() })
	return rdb
}

// committer is one way to make an offerBatch durable.
type committer func(ctx context.Context, worker int, n uint64) error

// runCommits runs commit from many goroutines and reports latency
// percentiles and throughput.
func runCommits(b *testing.B, commit committer) { runBatches(b, 1, "commits/s", commit) }

// runBatches is runCommits for operations that carry perOp updates each;
// the rate is of updates, named unit.
func runBatches(b *testing.B, perOp int, unit string, commit committer) {
	ctx := context.Background()
	var (
		n       atomic.Uint64
		workers atomic.Int64
		mu      sync.Mutex
		lat     []time.Duration
	)
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := int(workers.Add(1) - 1)
		mine := make([]time.Duration, 0, 1024)
		for pb.Next() {
			start := time.Now()
			if err := commit(ctx, w, n.Add(1)); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(start))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds())
	}
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(float64(b.N*perOp)/b.Elapsed().Seconds(), unit)
}

// redisCPU reads the server's CPU seconds (all threads) and the total
// microseconds and calls of one command from INFO.
type redisCPU struct{ cpu, usec, calls float64 }

func readRedisCPU(b *testing.B, rdb redis.UniversalClient, cmd string) redisCPU {
	b.Helper()
	u := redistest.ReadUsage(b, rdb)
	c := u.Commands[cmd]
	return redisCPU{cpu: u.CPU, usec: c.Usec, calls: c.Calls}
}

// reportRedisCPU reports the server's CPU per commit, and the time the
// command itself ran per commit (what commandstats counts).
func reportRedisCPU(b *testing.B, before, after redisCPU) {
	reportRedisCPUPer(b, 1, "commit", before, after)
}

// reportRedisCPUPer is reportRedisCPU per update when each of the b.N
// operations carried perOp of them.
func reportRedisCPUPer(b *testing.B, perOp int, what string, before, after redisCPU) {
	if b.N == 0 {
		return
	}
	n := float64(b.N * perOp)
	b.ReportMetric((after.cpu-before.cpu)*1e6/n, "redis-cpu-µs/"+what)
	b.ReportMetric((after.usec-before.usec)/n, "cmd-µs/"+what)
}

// BenchmarkCommit measures an assignment-sized batch (1 claim, 2 events,
// 2 records) made durable, from many goroutines at once:
//
//   - diskstore: the embedded store, Commit + Wait (fsync), the baseline
//     of what one node without Redis does;
//   - pipeline: the same writes as one MULTI/EXEC with no claim check and
//     automatic stream IDs, the baseline of what the script adds;
//   - stores=1, stores=3: the Redis store, one or three Stores (nodes,
//     each with its own client) on one Redis with AOF everysec;
//   - stores=1/always: one Store, AOF with fsync before every reply.
func BenchmarkCommit(b *testing.B) {
	everysec := redistest.Start(b, "--appendonly", "yes", "--appendfsync", "everysec", "--dir", b.TempDir())
	always := redistest.Start(b, "--appendonly", "yes", "--appendfsync", "always", "--dir", b.TempDir())
	var prefix atomic.Int64

	b.Run("diskstore", func(b *testing.B) {
		s, err := diskstore.Open(b.TempDir(), diskstore.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		runCommits(b, func(ctx context.Context, _ int, n uint64) error {
			c, err := s.Commit(ctx, offerBatch(n))
			if err != nil {
				return err
			}
			return c.Wait(ctx)
		})
	})

	b.Run("pipeline", func(b *testing.B) {
		rdb := benchClient(b, everysec.Addr())
		k := newKeys(fmt.Sprintf("b%d", prefix.Add(1)))
		before := readRedisCPU(b, rdb, "exec")
		runCommits(b, func(ctx context.Context, _ int, n uint64) error {
			bt := offerBatch(n)
			_, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.IncrBy(ctx, k.seq, int64(len(bt.Events)))
				for _, e := range bt.Events {
					p.XAdd(ctx, &redis.XAddArgs{Stream: k.events, Values: []any{
						"t", time.Now().UnixNano(), "y", e.Type, "r", e.Region, "w", e.WorkerID,
						"i", e.IncidentID, "a", e.AssignmentID, "d", []byte(e.Data)}})
				}
				for _, r := range bt.Records {
					p.HSet(ctx, k.record(string(r.Kind)), r.ID, []byte(r.Value))
				}
				c := bt.Claims[0]
				p.HSet(ctx, k.claims, c.WorkerID, c.AssignmentID)
				return nil
			})
			return err
		})
		reportRedisCPU(b, before, readRedisCPU(b, rdb, "exec"))
	})

	for _, tc := range []struct {
		name   string
		srv    *redistest.Server
		stores int
	}{
		{"stores=1", everysec, 1},
		{"stores=3", everysec, 3},
		{"stores=1/always", always, 1},
	} {
		b.Run(tc.name, func(b *testing.B) {
			opts := Options{Prefix: fmt.Sprintf("b%d", prefix.Add(1))}
			var stores []*Store
			for range tc.stores {
				e := &env{rdb: benchClient(b, tc.srv.Addr())}
				stores = append(stores, e.open(b, opts))
			}
			before := readRedisCPU(b, stores[0].rdb, "evalsha")
			runCommits(b, func(ctx context.Context, w int, n uint64) error {
				c, err := stores[w%len(stores)].Commit(ctx, offerBatch(n))
				if err != nil {
					return err
				}
				return c.Wait(ctx)
			})
			reportRedisCPU(b, before, readRedisCPU(b, stores[0].rdb, "evalsha"))
		})
	}
}

// positionBatch is n workers' position updates in one batch: per worker an
// event and the position record (what the engine's UpdatePosition writes).
func positionBatch(from uint64, n int) dispatch.Batch {
	var b dispatch.Batch
	for i := range n {
		ev, rec := positionUpdate(int((from + uint64(i)) % 1_500_000))
		b.Events = append(b.Events, ev)
		b.Records = append(b.Records, rec)
	}
	return b
}

// BenchmarkPosition measures the hot path of PRODUCT §7, position updates,
// one per Commit and coalesced 64 per Commit, beside the same writes sent
// as one MULTI/EXEC (the baseline). Rates and Redis CPU are per update.
func BenchmarkPosition(b *testing.B) {
	srv := redistest.Start(b, "--appendonly", "yes", "--appendfsync", "everysec", "--dir", b.TempDir())
	var prefix atomic.Int64
	for _, per := range []int{1, 64} {
		b.Run(fmt.Sprintf("pipeline/per=%d", per), func(b *testing.B) {
			rdb := benchClient(b, srv.Addr())
			k := newKeys(fmt.Sprintf("p%d", prefix.Add(1)))
			var n atomic.Uint64
			before := readRedisCPU(b, rdb, "exec")
			runBatches(b, per, "updates/s", func(ctx context.Context, _ int, _ uint64) error {
				bt := positionBatch(n.Add(uint64(per)), per)
				_, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
					p.IncrBy(ctx, k.seq, int64(len(bt.Events)))
					for i, e := range bt.Events {
						p.XAdd(ctx, &redis.XAddArgs{Stream: k.events, Values: []any{
							"t", time.Now().UnixNano(), "y", e.Type, "r", e.Region, "w", e.WorkerID,
							"i", "", "a", "", "d", []byte(e.Data)}})
						r := bt.Records[i]
						p.HSet(ctx, k.record(string(r.Kind)), r.ID, []byte(r.Value))
					}
					return nil
				})
				return err
			})
			reportRedisCPUPer(b, per, "update", before, readRedisCPU(b, rdb, "exec"))
		})
		b.Run(fmt.Sprintf("store/per=%d", per), func(b *testing.B) {
			e := &env{rdb: benchClient(b, srv.Addr())}
			s := e.open(b, Options{Prefix: fmt.Sprintf("p%d", prefix.Add(1))})
			var n atomic.Uint64
			before := readRedisCPU(b, s.rdb, "evalsha")
			runBatches(b, per, "updates/s", func(ctx context.Context, _ int, _ uint64) error {
				c, err := s.Commit(ctx, positionBatch(n.Add(uint64(per)), per))
				if err != nil {
					return err
				}
				return c.Wait(ctx)
			})
			reportRedisCPUPer(b, per, "update", before, readRedisCPU(b, s.rdb, "evalsha"))
		})
	}
}
