package dispatch

import (
	"slices"
	"time"

	"github.com/jjj-social-work/dispatch/geo"
)

// Hooks for the external tests and benchmarks (package dispatch_test),
// which need memstore and so cannot live in this package.

// PutWorkersDirect installs workers and positions without the store, for
// benchmarks that need a national roster in memory.
func (e *Engine) PutWorkersDirect(ws []Worker, pos []geo.Point) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range ws {
		w := &wstate{Worker: ws[i], pos: pos[i], hasPos: true}
		e.putWorker(w)
		e.indexWorker(w)
	}
}

// RankForTest returns the matcher's k best candidates for a need at a
// point, as CreateIncident would rank them (everywhere, nothing tried).
func (e *Engine) RankForTest(p geo.Point, region string, sev Severity, n Need, k int) []Candidate {
	e.mu.Lock()
	defer e.mu.Unlock()
	tx := e.begin()
	q := query{p: p, region: region, sev: sev, need: n}
	return candidates(tx.rank(&q, k))
}

// BruteRankForTest ranks every worker by scanning, without the index,
// keeping the k best in a small sorted slice.
func (e *Engine) BruteRankForTest(p geo.Point, region string, sev Severity, n Need, k int) []Candidate {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	q := query{p: p, region: region, sev: sev, need: n}
	maxM := e.pol.maxMeters()
	best := make([]ranked, 0, k+1)
	for _, w := range e.byGID {
		if !e.eligible(w, &q, now) || geo.DistanceMeters(w.pos, p) > maxM {
			continue
		}
		c := ranked{w: w, cost: e.costOf(w, &q, now)}
		if len(best) == k && compareRanked(c, best[k-1]) >= 0 {
			continue
		}
		i, _ := slices.BinarySearchFunc(best, c, compareRanked)
		best = slices.Insert(best, i, c)
		if len(best) > k {
			best = best[:k]
		}
	}
	return candidates(best)
}

// NowForTest is the engine's clock.
func (e *Engine) NowForTest() time.Time { return e.now() }
