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
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return true // the connection is ending anyway; not a slow consumer
	}
	if len(q.frames)+1 > q.maxFrames || q.bytes+len(f.data) > q.maxBytes {
		q.mu.Unlock()
		return false
	}
	q.frames = append(q.frames, f)
	q.bytes += len(f.data)
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
