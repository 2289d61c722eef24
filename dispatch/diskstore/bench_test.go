package diskstore

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/jjj-social-work/dispatch/dispatch"
)

// benchCommitters is the number of goroutines per GOMAXPROCS committing at
// once in the group-commit runs: many workers' position updates at once.
const benchCommitters = 128

// positionBatch is one worker's position update: one event, and with
// record the worker's latest state beside it.
func positionBatch(n uint64, record bool) dispatch.Batch {
	id := fmt.Sprintf("w%d", n%100000)
	data := json.RawMessage(`{"lat":39.486,"lng":115.974,"accuracy_m":12}`)
	b := dispatch.Batch{Events: []dispatch.Event{{
		Type: "worker.position", Region: "HE", WorkerID: id, Data: data,
	}}}
	if record {
		b.Records = []dispatch.Record{{Kind: dispatch.KindWorker, ID: id, Value: data}}
	}
	return b
}

// BenchmarkAppend measures events made durable per second. "serial" is the
// baseline: one Commit and Wait at a time, so one disk sync per event.
// "group" has many goroutines commit one event each at once, so one sync
// covers many; the ratio of the two is what group commit buys.
func BenchmarkAppend(b *testing.B) {
	ctx := context.Background()
	report := func(b *testing.B) {
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	}
	b.Run("serial", func(b *testing.B) {
		s := openT(b, b.TempDir(), Options{})
		b.ResetTimer()
		for i := range b.N {
			c, err := s.Commit(ctx, positionBatch(uint64(i), false))
			if err != nil {
				b.Fatal(err)
			}
			if err := c.Wait(ctx); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
	for _, record := range []bool{false, true} {
		name := "group"
		if record {
			name = "group+record"
		}
		b.Run(name, func(b *testing.B) {
			s := openT(b, b.TempDir(), Options{})
			var n atomic.Uint64
			b.SetParallelism(benchCommitters)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					c, err := s.Commit(ctx, positionBatch(n.Add(1), record))
					if err != nil {
						b.Error(err)
						return
					}
					if err := c.Wait(ctx); err != nil {
						b.Error(err)
						return
					}
				}
			})
			report(b)
		})
	}
}
