package web

import "sync"

// ackCacheSize bounds the remembered answers to worker messages: enough
// for every connected worker's last few messages, small in memory.
const ackCacheSize = 1 << 16

// ackCache remembers the answer to recent worker messages by (worker, id)
// so a message resent after a reconnect gets the same ack instead of being
// applied twice. Oldest entries are forgotten first.
type ackCache struct {
	max int

	mu    sync.Mutex
	m     map[string]*frame
	order []string // FIFO of keys; a ring once full
	next  int
}

func newAckCache(max int) *ackCache {
	return &ackCache{max: max, m: make(map[string]*frame)}
}

func ackKey(workerID, id string) string { return workerID + "\x00" + id }

func (a *ackCache) get(key string) (*frame, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f, ok := a.m[key]
	return f, ok
}

func (a *ackCache) put(key string, f *frame) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.m[key]; ok {
		a.m[key] = f
		return
	}
	if len(a.order) < a.max {
		a.order = append(a.order, key)
	} else {
		delete(a.m, a.order[a.next])
		a.order[a.next] = key
		a.next = (a.next + 1) % a.max
	}
	a.m[key] = f
}
