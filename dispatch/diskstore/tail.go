package diskstore

import "github.com/jjj-social-work/dispatch/dispatch"

// tail is a ring of the most recent durable events, contiguous in seq, so
// that resuming clients and live followers are served from memory. It is
// guarded by Store.dmu.
type tail struct {
	buf   []dispatch.Event // allocated once, at capacity
	start int              // index of the oldest event
	n     int
}

func newTail(capacity int) *tail { return &tail{buf: make([]dispatch.Event, capacity)} }

// push appends e, which must follow the newest event, evicting the oldest
// when full.
func (t *tail) push(e dispatch.Event) {
	if t.n < len(t.buf) {
		t.buf[(t.start+t.n)%len(t.buf)] = e
		t.n++
		return
	}
	t.buf[t.start] = e
	t.start = (t.start + 1) % len(t.buf)
}

// firstSeq is the seq of the oldest event held, 0 if none.
func (t *tail) firstSeq() uint64 {
	if t.n == 0 {
		return 0
	}
	return t.buf[t.start].Seq
}

// covers reports whether the events from seq on are all held.
func (t *tail) covers(seq uint64) bool { return t.n > 0 && seq >= t.firstSeq() }

// copyFrom returns up to n events starting at seq, which covers(seq).
func (t *tail) copyFrom(seq uint64, n uint64) []dispatch.Event {
	i := int(seq - t.firstSeq())
	n = min(n, uint64(t.n-i))
	out := make([]dispatch.Event, n)
	for j := range out {
		out[j] = t.buf[(t.start+i+j)%len(t.buf)]
	}
	return out
}

// dropThrough forgets the events with seq <= last, after a trim.
func (t *tail) dropThrough(last uint64) {
	for t.n > 0 && t.buf[t.start].Seq <= last {
		t.buf[t.start] = dispatch.Event{}
		t.start = (t.start + 1) % len(t.buf)
		t.n--
	}
}

// reset forgets everything; tests use it to force reads from disk.
func (t *tail) reset() {
	clear(t.buf)
	t.start, t.n = 0, 0
}
