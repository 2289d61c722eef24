package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
)

// EventLog is what the hub needs from the store: the change feed and the
// log for catch-up. dispatch.Store satisfies it.
type EventLog interface {
	Follow(ctx context.Context, after uint64, fn func([]dispatch.Event)) error
	EventsAfter(ctx context.Context, after uint64, limit int) ([]dispatch.Event, error)
}

const (
	defaultRingSize = 4096
	catchUpPage     = 512
	// aheadGraceDefault is how long a resume that names a sequence this node has
	// not seen yet waits for it (another node may be a moment ahead).
	aheadGraceDefault = 2 * time.Second
	// followRetry is the pause before re-following after a store error.
	followRetry = time.Second
)

// Why a resume cannot continue where the client asked.
var (
	errResumeTruncated = errors.New("log no longer reaches back")
	errResumeAhead     = errors.New("sequence ahead of the log")
	errHubClosed       = errors.New("stream hub closed")
)

// eventMeta is what a filter looks at; the hub keeps it instead of the
// whole event so the ring holds one encoded copy of each event.
type eventMeta struct {
	Seq      uint64
	Region   string
	WorkerID string
}

// frame is one server→client websocket message, encoded once and shared by
// every subscriber. seq is zero for frames that are not events (acks).
type frame struct {
	seq  uint64
	meta eventMeta
	data []byte
	// wire is data framed for the wire once (see wireFrame), for frames
	// that many connections send (events): each connection then copies
	// bytes instead of framing the message again.
	wire []byte
	// rebase marks a reset sent after the log restarted: the stream goes on
	// from base, which may be lower than what the client already has.
	rebase bool
	base   uint64
}

// logHead is what the hub needs to start again when the log no longer
// reaches back to where it was (a shared store lost or trimmed events).
// redisstore.Store implements it.
type logHead interface {
	LastSeq(ctx context.Context) (uint64, error)
}

// subscriber is a stream connection as the hub sees it.
type subscriber interface {
	// filter is what the subscriber receives; it must not change.
	filter() streamFilter
	// push queues f without blocking; false means the queue is full.
	push(f *frame) bool
	// pushMany queues all of fs or, if they do not fit, none.
	pushMany(fs []*frame) bool
	// drop ends the subscription without blocking.
	drop(reason string)
}

// Hub fans the store's change feed out to stream connections. One
// goroutine (Run) follows the store; a broadcast only appends to bounded
// per-connection queues, so a slow client never slows anyone else. The hub
// keeps the last RingSize events so most resumes never touch the store.
type Hub struct {
	log     EventLog
	logger  *slog.Logger
	metrics *Metrics

	mu     sync.Mutex
	ring   []*frame // circular; ring[(start+i)%len] for i < n
	start  int
	n      int
	base   uint64 // the ring holds every event with seq > base
	head   uint64 // last seq seen
	moved  chan struct{}
	subs   *audience
	closed bool
	live   bool

	scratch []*frame // publish's per-group selection, reused

	aheadGrace time.Duration // aheadGraceDefault; tests shorten it
}

// HubOptions configures a Hub.
type HubOptions struct {
	Log EventLog
	// After is where following starts: the engine's snapshot sequence.
	After uint64
	// RingSize is how many recent events are kept for resumes; default 4096.
	RingSize int
	Logger   *slog.Logger
	Metrics  *Metrics
}

func newHub(o HubOptions) *Hub {
	if o.RingSize <= 0 {
		o.RingSize = defaultRingSize
	}
	return &Hub{
		log: o.Log, logger: o.Logger, metrics: o.Metrics,
		ring: make([]*frame, o.RingSize), base: o.After, head: o.After,
		moved: make(chan struct{}), subs: newAudience(),
		aheadGrace: aheadGraceDefault,
	}
}

// Run follows the store until ctx ends. A failing feed is re-followed from
// the last event seen. When the log no longer reaches back to the hub
// (Redis lost events, or trimmed past a hub that fell behind), the hub
// starts again from the log's end and tells every client to reload
// (restartLog); a log that cannot say where it ends makes that fatal.
func (h *Hub) Run(ctx context.Context) error {
	defer h.close()
	for {
		h.mu.Lock()
		after := h.head
		h.live = true
		h.mu.Unlock()
		err := h.log.Follow(ctx, after, h.publish)
		h.mu.Lock()
		h.live = false
		h.mu.Unlock()
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, dispatch.ErrLogTruncated) {
			heads, ok := h.log.(logHead)
			if !ok {
				return fmt.Errorf("stream hub: follow after %d: %w", after, err)
			}
			h.logger.Warn("stream hub: the log no longer reaches back; clients reload", "after", after, "err", err)
			if err = h.restartLog(ctx, heads); err == nil {
				continue
			}
		}
		h.logger.Warn("stream hub: change feed failed; re-following", "after", after, "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(followRetry):
		}
	}
}

// Live reports whether the hub is following the change feed.
func (h *Hub) Live() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.live && !h.closed
}

// Head returns the last sequence the hub has seen.
func (h *Hub) Head() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.head
}

type eventFrame struct {
	Type  string          `json:"type"`
	Event *dispatch.Event `json:"event"`
}

// encodeEvent builds the one wire form of an event, shared by all.
func encodeEvent(ev *dispatch.Event) (*frame, error) {
	b, err := json.Marshal(eventFrame{Type: "event", Event: ev})
	if err != nil {
		return nil, fmt.Errorf("encode event %d: %w", ev.Seq, err)
	}
	wire := wireFrame(b)
	return &frame{seq: ev.Seq, meta: eventMeta{Seq: ev.Seq, Region: ev.Region, WorkerID: ev.WorkerID},
		data: wire[len(wire)-len(b):], wire: wire}, nil
}

// publish is the Follow callback: encode each event once (outside the
// lock), then append to the ring and offer to every subscriber.
func (h *Hub) publish(evs []dispatch.Event) {
	frames := make([]*frame, 0, len(evs))
	for i := range evs {
		f, err := encodeEvent(&evs[i])
		if err != nil {
			h.logger.Error("stream hub: skipping unencodable event", "seq", evs[i].Seq, "err", err)
			continue
		}
		frames = append(frames, f)
		if h.metrics != nil {
			h.metrics.observeEvent(evs[i].Type)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	fresh := frames[:0]
	for _, f := range frames {
		if f.seq <= h.head {
			continue // a re-follow may repeat; the feed is exactly-once per call only
		}
		h.appendLocked(f)
		fresh = append(fresh, f)
	}
	h.scratch = h.subs.deliver(fresh, h.scratch, func(s subscriber) { s.drop(dropSlowConsumer) })
	if len(fresh) > 0 {
		close(h.moved)
		h.moved = make(chan struct{})
	}
}

// restartLog empties the ring, moves the hub to the log's end and queues
// a reset for every subscriber: what they hold may name events the log no
// longer has, and sequence numbers may be handed out again.
func (h *Hub) restartLog(ctx context.Context, heads logHead) error {
	seq, err := heads.LastSeq(ctx)
	if err != nil {
		return fmt.Errorf("read the log's end: %w", err)
	}
	reset := &frame{rebase: true, base: seq, data: mustJSON(resetMessage{Type: "reset", Reason: "log_reset", Seq: seq,
		Message: "the event log started again: load a snapshot, then apply events with seq greater than its last_seq"})}
	h.mu.Lock()
	defer h.mu.Unlock()
	clear(h.ring)
	h.start, h.n, h.base, h.head = 0, 0, seq, seq
	h.subs.each(func(s subscriber) {
		if !s.push(reset) {
			h.subs.remove(s)
			s.drop(dropSlowConsumer)
		}
	})
	if h.metrics != nil {
		h.metrics.resets.Add(float64(h.subs.len()))
	}
	close(h.moved)
	h.moved = make(chan struct{})
	return nil
}

func (h *Hub) appendLocked(f *frame) {
	if h.n == len(h.ring) {
		h.base = h.ring[h.start].seq
		h.ring[h.start] = f
		h.start = (h.start + 1) % len(h.ring)
	} else {
		h.ring[(h.start+h.n)%len(h.ring)] = f
		h.n++
	}
	h.head = f.seq
}

// framesAfterLocked returns the ring's frames with seq > after that s wants.
func (h *Hub) framesAfterLocked(after uint64, s subscriber) []*frame {
	var out []*frame
	for i := 0; i < h.n; i++ {
		f := h.ring[(h.start+i)%len(h.ring)]
		if f.seq > after && s.filter().wants(f.meta) {
			out = append(out, f)
		}
	}
	return out
}

func (h *Hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	h.subs.each(func(s subscriber) { s.drop(dropShutdown) })
	h.subs.clear()
}

func (h *Hub) unsubscribe(s subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.subs.remove(s)
}

// resume sends s every event after `after` (through emit, which writes to
// the connection directly) and then attaches s for live events, so that
// the client sees each event once, in order, with no gap. It returns the
// last sequence the client is now past.
//
// The handoff is race-free because attaching happens under the hub lock
// at the moment the ring covers everything after the last event emitted:
// every later event goes to the queue, every earlier one was emitted or is
// in the slice copied under that same lock. Events read from the store may
// run ahead of the hub; the writer drops queued seq ≤ what it already sent.
func (h *Hub) resume(ctx context.Context, s subscriber, after uint64, emit func(*frame) error) (uint64, error) {
	last := after
	for {
		if err := ctx.Err(); err != nil {
			return last, err
		}
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			return last, errHubClosed
		}
		if last > h.head {
			moved := h.moved
			h.mu.Unlock()
			if err := h.waitAhead(ctx, last, moved); err != nil {
				return last, err
			}
			continue
		}
		if last >= h.base {
			backlog := h.framesAfterLocked(last, s)
			h.subs.add(s)
			last = h.head
			h.mu.Unlock()
			for _, f := range backlog {
				if err := emit(f); err != nil {
					return last, err
				}
			}
			return last, nil
		}
		h.mu.Unlock()
		next, err := h.emitFromLog(ctx, s, last, emit)
		if err != nil {
			return last, err
		}
		last = next
	}
}

// waitAhead waits (briefly) for the hub to reach seq.
func (h *Hub) waitAhead(ctx context.Context, seq uint64, moved chan struct{}) error {
	deadline := time.NewTimer(h.aheadGrace)
	defer deadline.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return errResumeAhead
		case <-moved:
		}
		h.mu.Lock()
		ok := h.head >= seq
		moved = h.moved
		h.mu.Unlock()
		if ok {
			return nil
		}
	}
}

// emitFromLog sends one page of the store's log after `after`.
func (h *Hub) emitFromLog(ctx context.Context, s subscriber, after uint64, emit func(*frame) error) (uint64, error) {
	evs, err := h.log.EventsAfter(ctx, after, catchUpPage)
	if errors.Is(err, dispatch.ErrLogTruncated) {
		return after, errResumeTruncated
	}
	if err != nil {
		return after, fmt.Errorf("catch up after %d: %w", after, err)
	}
	if len(evs) == 0 {
		// The store has nothing the ring lacks, yet the ring starts later:
		// the log was trimmed under us. Say so rather than skip.
		return after, errResumeTruncated
	}
	last := after
	for i := range evs {
		if evs[i].Seq <= last {
			continue
		}
		last = evs[i].Seq
		m := eventMeta{Seq: evs[i].Seq, Region: evs[i].Region, WorkerID: evs[i].WorkerID}
		if !s.filter().wants(m) {
			continue
		}
		f, err := encodeEvent(&evs[i])
		if err != nil {
			return last, err
		}
		if err := emit(f); err != nil {
			return last, err
		}
	}
	return last, nil
}

// attachAtHead attaches s for live events from the hub's head on, after a
// reset: the client reloads a snapshot (whose sequence is at least this
// head) and applies only events after the snapshot's sequence.
func (h *Hub) attachAtHead(s subscriber) (uint64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return 0, errHubClosed
	}
	h.subs.add(s)
	return h.head, nil
}
