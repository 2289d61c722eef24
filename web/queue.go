package web

import "sync"

// sendQueue is a connection's bounded outbox, limited by bytes and by
// count. push never blocks: when either limit would be passed it refuses,
// and the caller cuts the client off as a slow consumer (it will resume
// from its last sequence). Frames are shared, so the bytes counted are the
// bytes this client pins in memory.
type sendQueue struct {
	maxBytes, maxFrames int

	mu     sync.Mutex
	frames []*frame
	bytes  int
	closed bool
	ready  chan struct{} // capacity 1: "something was pushed"
}

func newSendQueue(maxBytes, maxFrames int) *sendQueue {
	return &sendQueue{maxBytes: maxBytes, maxFrames: maxFrames, ready: make(chan struct{}, 1)}
}

func (q *sendQueue) push(f *frame) bool {
	one := [1]*frame{f}
	return q.pushMany(one[:])
}

// pushMany queues all of fs, or none of them if they would pass a limit.
// One call per batch of events keeps a busy desk to one lock and one
// wake-up of its writer, however many events the batch holds.
func (q *sendQueue) pushMany(fs []*frame) bool {
	n := 0
	for _, f := range fs {
		n += len(f.data)
	}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return true // the connection is ending anyway; not a slow consumer
	}
	if len(q.frames)+len(fs) > q.maxFrames || q.bytes+n > q.maxBytes {
		q.mu.Unlock()
		return false
	}
	q.frames = append(q.frames, fs...)
	q.bytes += n
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return true
}

// take moves everything queued into dst (reused between calls).
func (q *sendQueue) take(dst []*frame) []*frame {
	q.mu.Lock()
	defer q.mu.Unlock()
	dst = append(dst[:0], q.frames...)
	clear(q.frames)
	q.frames = q.frames[:0]
	q.bytes = 0
	return dst
}

// close drops what is queued and refuses nothing more (pushes succeed
// silently so a closing client is never counted as slow).
func (q *sendQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	clear(q.frames)
	q.frames = nil
	q.bytes = 0
}
