package dispatch_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/jjj-social-work/dispatch/geo"
)

// TestPositionsShareCommits: concurrent position updates go to the store
// in fewer commits than updates, each one is logged once, and every
// worker ends at its last position. An update of an unknown worker fails
// alone.
func TestPositionsShareCommits(t *testing.T) {
	const workers, each = 32, 20
	r := newRig(t, testPolicy())
	var ws []wopt
	for i := range workers {
		ws = append(ws, wopt{id: fmt.Sprintf("p%02d", i), region: "BJ", pos: dongcheng})
	}
	r.addWorkers(ws...)
	var commits atomic.Int64
	r.store.SetCommitHook(func(b dispatch.Batch) error {
		commits.Add(1)
		time.Sleep(time.Millisecond) // a store round trip, during which updates queue
		return nil
	})
	before := len(r.eventsOf(dispatch.EventWorkerPosition))
	last := func(i int) geo.Point { return offset(dongcheng, float64(i), float64(each)) }
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 1; k <= each; k++ {
				if err := r.e.UpdatePosition(r.ctx, ws[i].id, offset(dongcheng, float64(i), float64(k))); err != nil {
					t.Errorf("update %s: %v", ws[i].id, err)
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		err := r.e.UpdatePosition(r.ctx, "nobody", dongcheng)
		wantFieldErr(t, err, "worker_id", dispatch.ErrNotFound)
	}()
	wg.Wait()
	r.store.SetCommitHook(nil)

	if got := len(r.eventsOf(dispatch.EventWorkerPosition)) - before; got != workers*each {
		t.Fatalf("got %d position events, want %d", got, workers*each)
	}
	if n := commits.Load(); n >= workers*each {
		t.Fatalf("got %d commits for %d updates, want fewer", n, workers*each)
	} else {
		t.Logf("%d updates in %d commits", workers*each, n)
	}
	for i, w := range ws {
		got, err := r.e.Worker(w.id)
		r.must(err)
		if want := last(i); got.Position == nil || *got.Position != want {
			t.Fatalf("worker %s: got position %v, want %v", w.id, got.Position, want)
		}
	}
	near, err := r.e.WorkersNear(last(3), dispatch.NearQuery{K: 1})
	r.must(err)
	if len(near) != 1 || near[0].Worker.ID != ws[3].id {
		t.Fatalf("index: got %+v nearest to p03's last position, want p03", near)
	}
}
