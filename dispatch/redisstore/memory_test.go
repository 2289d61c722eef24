package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/jjj-social-work/dispatch/dispatch"
)

// Bounds on what Redis spends beyond the payload, in bytes. The payload of
// a record is its id and value; of an event, its strings, data and 8 bytes
// of time. See BENCHMARKS.md for what they mean at national scale.
const (
	maxRecordOverhead = 72
	maxEventOverhead  = 48
)

// positionUpdate is what the engine writes for one worker position: the
// event and the worker's position record, with ids of the engine's length.
func positionUpdate(n int) (dispatch.Event, dispatch.Record) {
	id := fmt.Sprintf("w_01h8xq3k5m7n9p1r3s%08d", n)
	lat, lng := 39.904211+float64(n%1000)*1e-4, 116.407395+float64(n%997)*1e-4
	data := json.RawMessage(fmt.Sprintf(`{"position":{"lat":%.6f,"lng":%.6f}}`, lat, lng))
	value := json.RawMessage(fmt.Sprintf(`{"lat":%.6f,"lng":%.6f,"at":"2023-07-31T08:00:%02d.123456789Z"}`, lat, lng, n%60))
	return dispatch.Event{Type: "worker.position", Region: "BJ", WorkerID: id, Data: data},
		dispatch.Record{Kind: dispatch.KindPosition, ID: id, Value: value}
}

// TestMemoryPerRecordAndEvent measures MEMORY USAGE (every element
// counted) of the position hash and the event stream after 20,000
// position updates, and holds the overhead per record and per event to
// the bounds above.
func TestMemoryPerRecordAndEvent(t *testing.T) {
	const n, perBatch = 20000, 500
	e, _ := standalone(t)
	s := e.open(t, e.fresh(Options{}))
	var recPayload, evPayload int
	for i := 0; i < n; i += perBatch {
		var b dispatch.Batch
		for j := i; j < i+perBatch; j++ {
			ev, rec := positionUpdate(j)
			b.Events = append(b.Events, ev)
			b.Records = append(b.Records, rec)
			recPayload += len(rec.ID) + len(rec.Value)
			evPayload += 8 + len(ev.Type) + len(ev.Region) + len(ev.WorkerID) + len(ev.Data)
		}
		mustCommit(t, s, b)
	}
	ctx := context.Background()
	usage := func(key string) float64 {
		t.Helper()
		v, err := s.rdb.MemoryUsage(ctx, key, 0).Result()
		if err != nil {
			t.Fatalf("MEMORY USAGE %s: %v", key, err)
		}
		return float64(v) / n
	}
	rec, evt := usage(s.keys.record(string(dispatch.KindPosition))), usage(s.keys.events)
	recOver, evOver := rec-float64(recPayload)/n, evt-float64(evPayload)/n
	t.Logf("per position record: %.1f bytes (payload %.1f, overhead %.1f)", rec, float64(recPayload)/n, recOver)
	t.Logf("per position event:  %.1f bytes (payload %.1f, overhead %.1f)", evt, float64(evPayload)/n, evOver)
	t.Logf("1.5M workers: position records %.0f MB; events of one 30 s round of updates %.0f MB",
		rec*1.5e6/1e6, evt*1.5e6/1e6)
	if recOver > maxRecordOverhead {
		t.Errorf("record overhead: got %.1f bytes, want at most %d", recOver, maxRecordOverhead)
	}
	if evOver > maxEventOverhead {
		t.Errorf("event overhead: got %.1f bytes, want at most %d", evOver, maxEventOverhead)
	}
}
