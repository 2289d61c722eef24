package dispatch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/jjj-social-work/dispatch/dispatch/diskstore"
	"github.com/jjj-social-work/dispatch/dispatch/memstore"
	"github.com/jjj-social-work/dispatch/dispatch/redisstore"
	"github.com/jjj-social-work/dispatch/geo"
	"github.com/jjj-social-work/dispatch/internal/redistest"
)

const positionBenchWorkers = 20_000

// BenchmarkUpdatePosition measures position updates per second from many
// concurrent workers (PRODUCT §7: 1.5M workers every 30 s is 50,000/s),
// through the engine and, as the baseline in the same run, the same
// batches committed straight to the store: the difference is the engine's
// share (validation, lock, index move).
func BenchmarkUpdatePosition(b *testing.B) {
	for _, name := range []string{"memstore", "diskstore", "redis"} {
		b.Run(name+"/engine", func(b *testing.B) { benchPositions(b, name, true) })
		b.Run(name+"/store_only", func(b *testing.B) { benchPositions(b, name, false) })
	}
}

func benchPositions(b *testing.B, store string, viaEngine bool) {
	ctx := context.Background()
	var st dispatch.Store = memstore.New()
	switch store {
	case "diskstore":
		ds, err := diskstore.Open(b.TempDir(), diskstore.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer ds.Close()
		st = ds
	case "redis":
		srv := redistest.Start(b)
		rs, err := redisstore.Open(ctx, redisstore.Options{URL: "redis://" + srv.Addr() + "?pool_size=128"})
		if err != nil {
			b.Fatal(err)
		}
		defer rs.Close()
		st = rs
	}
	pol := testPolicy()
	e, err := dispatch.New(ctx, dispatch.Options{Store: st, Policy: &pol})
	if err != nil {
		b.Fatal(err)
	}
	in := make([]dispatch.WorkerInput, positionBenchWorkers)
	for i := range in {
		p := offset(dongcheng, float64(i%100)*0.1, float64(i/100)*0.1)
		in[i] = dispatch.WorkerInput{ID: fmt.Sprintf("p%05d", i), Name: "w", HomeRegion: "BJ", Position: &p}
	}
	if err := e.UpsertWorkers(ctx, in); err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	b.SetParallelism(64) // many phones at once, so group commit can work
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1))
			id := in[i%positionBenchWorkers].ID
			p := offset(dongcheng, float64(i%97)*0.01, float64(i%89)*0.01)
			var err error
			if viaEngine {
				err = e.UpdatePosition(ctx, id, p)
			} else {
				err = commitPositionDirect(ctx, st, id, p)
			}
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "updates/s")
}

// commitPositionDirect is what UpdatePosition writes, without the engine.
func commitPositionDirect(ctx context.Context, st dispatch.Store, id string, p geo.Point) error {
	rec, _ := json.Marshal(map[string]any{"lat": p.Lat, "lng": p.Lng, "at": time.Now()})
	data, _ := json.Marshal(dispatch.PositionEvent{Position: p})
	c, err := st.Commit(ctx, dispatch.Batch{
		Events:  []dispatch.Event{{Type: dispatch.EventWorkerPosition, Region: "BJ", WorkerID: id, Data: data}},
		Records: []dispatch.Record{{Kind: dispatch.KindPosition, ID: id, Value: rec}},
	})
	if err != nil {
		return err
	}
	return c.Wait(ctx)
}
