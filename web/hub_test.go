package web

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// fakeSub records what the hub hands it.
type fakeSub struct {
	scope   streamFilter
	got     []uint64
	room    int // frames it still accepts; <0 means unbounded
	dropped string
}

func (s *fakeSub) filter() streamFilter { return s.scope }

func (s *fakeSub) push(f *frame) bool { return s.pushMany([]*frame{f}) }

func (s *fakeSub) pushMany(fs []*frame) bool {
	if s.room >= 0 {
		if len(fs) > s.room {
			return false
		}
		s.room -= len(fs)
	}
	for _, f := range fs {
		s.got = append(s.got, f.seq)
	}
	return true
}

func (s *fakeSub) drop(reason string) { s.dropped = reason }

var testRegions = []string{"BJ", "TJ", "HE"}

func randomScope(rng *rand.Rand, workers int) streamFilter {
	switch rng.IntN(4) {
	case 0:
		return streamFilter{}
	case 1:
		n := 1 + rng.IntN(len(testRegions))
		r := slices.Clone(testRegions)
		rng.Shuffle(len(r), func(i, j int) { r[i], r[j] = r[j], r[i] })
		return streamFilter{regions: r[:n]}
	default:
		return streamFilter{workerID: fmt.Sprintf("w%d", rng.IntN(workers))}
	}
}

func randomFrames(rng *rand.Rand, from uint64, n, workers int) []*frame {
	out := make([]*frame, n)
	for i := range out {
		m := eventMeta{Seq: from + uint64(i)}
		if rng.IntN(8) > 0 {
			m.Region = testRegions[rng.IntN(len(testRegions))]
		}
		if rng.IntN(2) == 0 {
			m.WorkerID = fmt.Sprintf("w%d", rng.IntN(workers))
		}
		out[i] = &frame{seq: m.Seq, meta: m, data: []byte("x")}
	}
	return out
}

// The index must deliver exactly what asking every subscriber would: each
// subscriber gets the frames its filter wants, in sequence order, once;
// a full one is dropped as slow and gets nothing more.
func TestAudienceDeliversWhatFiltersWant(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 7))
		workers := 1 + rng.IntN(20)
		a := newAudience()
		var subs []*fakeSub
		for range rng.IntN(40) {
			s := &fakeSub{scope: randomScope(rng, workers), room: -1}
			if rng.IntN(10) == 0 {
				s.room = rng.IntN(5)
			}
			subs = append(subs, s)
			a.add(s)
		}
		// Some leave before anything is published.
		for _, s := range subs {
			if rng.IntN(10) == 0 {
				a.remove(s)
				s.dropped = "left"
			}
		}
		var all []*frame
		var scratch []*frame
		next := uint64(1)
		for range 1 + rng.IntN(6) {
			batch := randomFrames(rng, next, rng.IntN(30), workers)
			next += uint64(len(batch))
			all = append(all, batch...)
			scratch = a.deliver(batch, scratch, func(s subscriber) { s.drop(dropSlowConsumer) })
		}
		for i, s := range subs {
			var want []uint64
			for _, f := range all {
				if s.scope.wants(f.meta) {
					want = append(want, f.seq)
				}
			}
			switch {
			case s.dropped == "left":
				if len(s.got) != 0 {
					t.Fatalf("seed %d sub %d: removed, yet got %v", seed, i, s.got)
				}
			case s.dropped == dropSlowConsumer:
				if !slices.Equal(s.got, want[:len(s.got)]) || len(s.got) == len(want) {
					t.Fatalf("seed %d sub %d: dropped as slow with %v of %v", seed, i, s.got, want)
				}
			default:
				if !slices.Equal(s.got, want) {
					t.Fatalf("seed %d sub %d (%+v): got %v, want %v", seed, i, s.scope, s.got, want)
				}
			}
		}
		remaining := 0
		for _, s := range subs {
			if s.dropped == "" {
				remaining++
			}
		}
		if a.len() != remaining {
			t.Fatalf("seed %d: index holds %d, want %d", seed, a.len(), remaining)
		}
	}
}

func TestScopeKeyIgnoresOrder(t *testing.T) {
	if scopeKey([]string{"TJ", "BJ"}) != scopeKey([]string{"BJ", "TJ"}) {
		t.Fatal("same regions in another order must share a group")
	}
	if scopeKey(nil) != "" || scopeKey([]string{"HE"}) == "" {
		t.Fatal("only the unscoped group has the empty key")
	}
}

// BenchmarkHubPublish compares delivery through the index with the
// previous way, asking every subscriber about every event, at the load
// run's size: 10,000 worker phones and 1,000 desks (a third scoped to one
// region), batches of 8 events.
func BenchmarkHubPublish(b *testing.B) {
	const workers, desks, batch = 10000, 1000, 8
	build := func() ([]*fakeSub, []subscriber) {
		var subs []*fakeSub
		for i := range workers {
			subs = append(subs, &fakeSub{scope: streamFilter{workerID: fmt.Sprintf("w%d", i)}, room: -1})
		}
		for i := range desks {
			var sc streamFilter
			if i%3 == 0 {
				sc.regions = []string{testRegions[i%len(testRegions)]}
			}
			subs = append(subs, &fakeSub{scope: sc, room: -1})
		}
		as := make([]subscriber, len(subs))
		for i, s := range subs {
			as[i] = s
		}
		return subs, as
	}
	rng := rand.New(rand.NewPCG(1, 2))
	frames := randomFrames(rng, 1, batch*64, workers)
	reset := func(subs []*fakeSub) {
		for _, s := range subs {
			s.got = s.got[:0]
		}
	}
	var indexNs, scanNs float64
	b.Run("index", func(b *testing.B) {
		subs, as := build()
		a := newAudience()
		for _, s := range as {
			a.add(s)
		}
		var scratch []*frame
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			if i%64 == 0 {
				reset(subs)
			}
			j := (i % 64) * batch
			scratch = a.deliver(frames[j:j+batch], scratch, func(subscriber) {})
		}
		indexNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N*batch)
		b.ReportMetric(indexNs, "ns/event")
	})
	b.Run("scan-baseline", func(b *testing.B) {
		subs, as := build()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			if i%64 == 0 {
				reset(subs)
			}
			j := (i % 64) * batch
			for _, f := range frames[j : j+batch] {
				for _, s := range as {
					if s.filter().wants(f.meta) {
						s.push(f)
					}
				}
			}
		}
		scanNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N*batch)
		b.ReportMetric(scanNs, "ns/event")
		if indexNs > 0 {
			b.ReportMetric(scanNs/indexNs, "x-slower-than-index")
		}
	})
}
