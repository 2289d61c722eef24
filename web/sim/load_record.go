package sim

import (
	"hash/maphash"
	"slices"
	"sync"
	"time"
)

// recorder pairs the two ends of each measured latency. Its maps are
// sharded: a thousand desks report every acceptance at once.
type recorder struct {
	desks int // how many desks must see each acceptance

	mu           sync.Mutex
	intakeAt     map[string]time.Time // incident id → intake start, offer not seen yet
	offerAt      map[string]time.Time // incident id → offer arrival, intake answer not back yet
	toOffer      []time.Duration
	offers       int
	accepts      [acceptShards]acceptShard
	seed         maphash.Seed
	unknownSeen  int
	acceptToAll  latencies
	intakeReq    latencies // the intake request's own round trip
	intakeErrors int
}

const acceptShards = 64

type acceptShard struct {
	mu sync.Mutex
	m  map[string]*acceptTrack
}

// acceptTrack follows one acceptance until every desk has seen it.
type acceptTrack struct {
	sent      time.Time
	remaining int
	last      time.Time
}

type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func newRecorder(desks int) *recorder {
	r := &recorder{desks: desks, intakeAt: map[string]time.Time{}, offerAt: map[string]time.Time{},
		seed: maphash.MakeSeed()}
	for i := range r.accepts {
		r.accepts[i].m = map[string]*acceptTrack{}
	}
	return r
}

// intake records that the incident id, sent at start, was logged.
func (r *recorder) intake(id string, start time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if at, ok := r.offerAt[id]; ok {
		delete(r.offerAt, id)
		r.toOffer = append(r.toOffer, at.Sub(start))
		return
	}
	r.intakeAt[id] = start
}

func (r *recorder) intakeFailed() {
	r.mu.Lock()
	r.intakeErrors++
	r.mu.Unlock()
}

// offered records an offer for incident id arriving at a worker. Only the
// first offer of an incident counts: later ones follow declines.
func (r *recorder) offered(id []byte, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.offers++
	if start, ok := r.intakeAt[string(id)]; ok {
		delete(r.intakeAt, string(id))
		r.toOffer = append(r.toOffer, at.Sub(start))
		return
	}
	r.offerAt[string(id)] = at
}

func (r *recorder) shard(id []byte) *acceptShard {
	return &r.accepts[maphash.Bytes(r.seed, id)%acceptShards]
}

// acceptSent records a worker sending its acceptance.
func (r *recorder) acceptSent(assignmentID []byte, at time.Time) {
	s := r.shard(assignmentID)
	s.mu.Lock()
	s.m[string(assignmentID)] = &acceptTrack{sent: at, remaining: r.desks}
	s.mu.Unlock()
}

// acceptSeen records a desk receiving an acceptance; the last desk's
// arrival closes the measurement.
func (r *recorder) acceptSeen(assignmentID []byte, at time.Time) {
	s := r.shard(assignmentID)
	s.mu.Lock()
	t, ok := s.m[string(assignmentID)]
	if !ok {
		s.mu.Unlock()
		r.mu.Lock()
		r.unknownSeen++
		r.mu.Unlock()
		return
	}
	t.remaining--
	if at.After(t.last) {
		t.last = at
	}
	done := t.remaining == 0
	if done {
		delete(s.m, string(assignmentID))
	}
	s.mu.Unlock()
	if done {
		r.acceptToAll.add(t.last.Sub(t.sent))
	}
}

// settled reports whether every logged incident was offered and every
// acceptance reached every desk.
func (r *recorder) settled() bool {
	r.mu.Lock()
	pending := len(r.intakeAt)
	r.mu.Unlock()
	return pending == 0 && r.unfinished() == 0
}

// unfinished counts acceptances some desk never saw.
func (r *recorder) unfinished() int {
	n := 0
	for i := range r.accepts {
		r.accepts[i].mu.Lock()
		n += len(r.accepts[i].m)
		r.accepts[i].mu.Unlock()
	}
	return n
}

// Percentiles summarise a latency distribution.
type Percentiles struct {
	Count int           `json:"count"`
	P50   time.Duration `json:"p50"`
	P90   time.Duration `json:"p90"`
	P99   time.Duration `json:"p99"`
	Max   time.Duration `json:"max"`
}

func percentiles(d []time.Duration) Percentiles {
	if len(d) == 0 {
		return Percentiles{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(q float64) time.Duration {
		i := int(q*float64(len(s))+0.5) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return Percentiles{Count: len(s), P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: s[len(s)-1]}
}
