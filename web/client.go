package web

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Stream timing. The ping period is shorter than the pong wait so a live
// client always answers before its read deadline passes.
const (
	writeWait       = 10 * time.Second // one write, including a close frame
	defaultPongWait = 60 * time.Second // silence after which a client is dead
	closeGrace      = writeWait / 10   // time to wait for the peer's close reply
	maxFrame        = 4 << 10          // largest message a client may send
	defaultFlushGap = 35 * time.Millisecond
	// gapPerDesk is how much each open desk adds to the flush gap: with
	// 1,000 desks the gap is 35 ms, under 30,000 desk writes a second.
	gapPerDesk = 35 * time.Microsecond
)

// pingPeriodFor is how often the writer pings (and re-checks the
// credential) for a given pong wait.
func pingPeriodFor(pongWait time.Duration) time.Duration { return pongWait * 9 / 10 }

// Close codes of the stream (4000–4999 are ours by RFC 6455).
const (
	CloseSlowConsumer = 4008 // the send queue was full; resume from the last seq
	CloseCredential   = 4001 // the credential expired or was revoked
	CloseResumeFailed = 4011 // catch-up from the log failed on the server
)

// StreamLimits bounds one stream connection. Zero values mean defaults.
type StreamLimits struct {
	// QueueBytes and QueueFrames bound the send queue; when either is
	// reached the client is disconnected with CloseSlowConsumer.
	QueueBytes  int // default 1 MiB
	QueueFrames int // default 4096
	// RingSize is how many recent events the hub keeps; default 4096.
	RingSize int
	// PongWait is how long a silent client lives; default 60 s. Pings go
	// out every 9/10 of it. Shorten it behind proxies with short idle
	// timeouts.
	PongWait time.Duration
	// FlushGap bounds the least time between two writes to one
	// connection while events keep coming: what arrives meanwhile goes
	// out in the next write. The gap grows with the number of desks
	// (gapPerDesk each) up to FlushGap, so that all busy desks together
	// cost a bounded number of writes a second: a thousand desks that each
	// receive a thousand events a second cost both ends a few dozen system
	// calls a second per desk, not a thousand, while ten desks hardly
	// wait. An idle connection's next event goes out at once. Default
	// 35 ms, unnoticeable on a screen; negative turns it off.
	FlushGap time.Duration
}

func (l StreamLimits) withDefaults() StreamLimits {
	if l.QueueBytes <= 0 {
		l.QueueBytes = 1 << 20
	}
	if l.QueueFrames <= 0 {
		l.QueueFrames = 4096
	}
	if l.RingSize <= 0 {
		l.RingSize = defaultRingSize
	}
	if l.PongWait <= 0 {
		l.PongWait = defaultPongWait
	}
	if l.FlushGap == 0 {
		l.FlushGap = defaultFlushGap
	}
	return l
}

// streamFilter decides which events a connection receives (PRODUCT §5,
// §9): workers only events about themselves; coordinators all events or
// those of their regions.
type streamFilter struct {
	workerID string   // non-empty: only events with this worker id
	regions  []string // non-empty: only events of these regions
}

func (f streamFilter) wants(m eventMeta) bool {
	if f.workerID != "" {
		return m.WorkerID == f.workerID
	}
	if len(f.regions) > 0 {
		return slices.Contains(f.regions, m.Region)
	}
	return true
}

// client is one stream connection. It has exactly two goroutines: readLoop
// and writeLoop. Only writeLoop writes data frames; gorilla's own control
// replies (pong, close echo) use WriteControl, which it allows concurrently.
type client struct {
	srv    *Server
	conn   *websocket.Conn
	cork   *corkConn // conn's transport: the writer batches through it
	p      *Principal
	scope  streamFilter
	after  uint64 // resume point asked by the client
	resume bool   // whether the client asked to resume at all
	log    *slog.Logger
	q      *sendQueue

	ctx    context.Context
	cancel context.CancelFunc

	endOnce   sync.Once
	endReason string
	endCode   int
	endText   string

	readerDone chan struct{}
	limit      rateLimit // touched by readLoop only
}

func (c *client) filter() streamFilter { return c.scope }

func (c *client) push(f *frame) bool { return c.q.push(f) }

func (c *client) pushMany(fs []*frame) bool { return c.q.pushMany(fs) }

// drop ends the connection for reason; the writer sends the close frame.
// Safe from any goroutine, never blocks; the first reason wins.
func (c *client) drop(reason string) {
	code, text := closeFor(reason)
	c.end(reason, code, text)
}

func (c *client) end(reason string, code int, text string) {
	c.endOnce.Do(func() {
		c.endReason, c.endCode, c.endText = reason, code, text
		c.srv.metrics.drops.WithLabelValues(reason).Inc()
		c.cancel()
	})
}

func closeFor(reason string) (int, string) {
	switch reason {
	case dropSlowConsumer:
		return CloseSlowConsumer, "slow consumer"
	case dropShutdown:
		return websocket.CloseGoingAway, "server shutting down"
	case dropCredential:
		return CloseCredential, "credential no longer valid"
	case dropReadLimit:
		return websocket.CloseMessageTooBig, "frame too large"
	case dropLogTruncated:
		return CloseResumeFailed, "resume failed"
	}
	return websocket.CloseNormalClosure, ""
}

// readLoop reads worker messages until the connection fails or ends. It
// never writes: answers go through the send queue to the writer.
func (c *client) readLoop() {
	defer close(c.readerDone)
	c.conn.SetReadLimit(maxFrame)
	pongWait := c.srv.limits.PongWait
	_ = c.conn.SetReadDeadline(time.Now().Add(pongWait))
	c.conn.SetPongHandler(func(string) error {
		return c.conn.SetReadDeadline(time.Now().Add(pongWait))
	})
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			c.drop(readFailure(err))
			return
		}
		now := time.Now()
		_ = c.conn.SetReadDeadline(now.Add(pongWait))
		var out *frame
		if c.limit.allow(now) {
			out = c.srv.handleClientMessage(c.ctx, c.p, data)
		} else {
			out = errorFrame(messageID(data), errRateLimited)
		}
		if !c.push(out) {
			c.drop(dropSlowConsumer)
			return
		}
	}
}

func readFailure(err error) string {
	var ce *websocket.CloseError
	var ne net.Error
	switch {
	case errors.Is(err, websocket.ErrReadLimit):
		return dropReadLimit
	case errors.As(err, &ce):
		return dropClientClosed
	case errors.As(err, &ne) && ne.Timeout():
		return dropPongTimeout
	}
	return dropClientClosed
}

// writeLoop is the only goroutine that writes data frames to the
// connection: first the catch-up (from the hub's ring or the store), then
// live events and acks from the send queue, pings on a timer, and finally
// the close frame. Every write has a deadline.
func (c *client) writeLoop() {
	defer c.finish()
	ping := time.NewTicker(pingPeriodFor(c.srv.limits.PongWait))
	defer ping.Stop()

	var sent uint64 // last event seq written; queued events ≤ sent are duplicates
	write := func(f *frame) error {
		var err error
		if f.wire != nil {
			err = c.cork.writeRaw(f.wire)
		} else {
			err = c.conn.WriteMessage(websocket.TextMessage, f.data)
		}
		if err != nil {
			return err
		}
		if f.seq > sent {
			sent = f.seq
		}
		if f.rebase {
			sent = f.base
		}
		return nil
	}
	catchUpWrite := func(f *frame) error {
		if err := c.conn.SetWriteDeadline(time.Now().Add(writeWait)); err != nil {
			return err
		}
		if f.seq != 0 {
			c.srv.metrics.eventsStreamed.Inc()
		}
		if err := write(f); err != nil {
			return err
		}
		select { // keep pinging through a long catch-up
		case <-ping.C:
			return c.writePing()
		default:
			return nil
		}
	}
	if err := c.catchUp(catchUpWrite, &sent); err != nil {
		c.failCatchUp(err)
	}
	var batch []*frame
	var lastFlush time.Time
	gap := time.NewTimer(0)
	defer gap.Stop()
	for c.ctx.Err() == nil {
		select {
		case <-c.ctx.Done():
		case <-c.q.ready:
			// While events keep coming, let them gather for a moment so
			// that one write carries many (see StreamLimits.FlushGap).
			if wait := c.srv.flushGap() - time.Since(lastFlush); wait > 0 {
				gap.Reset(wait)
				select {
				case <-c.ctx.Done():
					continue
				case <-gap.C:
				}
			}
			batch = c.q.take(batch)
			if err := c.writeBatch(batch, write, &sent); err != nil {
				c.drop(dropWriteError)
			}
			lastFlush = time.Now()
			clear(batch)
		case <-ping.C:
			if err := c.writePing(); err != nil {
				c.drop(dropWriteError)
			} else if err := c.srv.auth.Valid(c.p.TokenID); err != nil {
				c.drop(dropCredential)
			}
		}
	}
	c.drop(dropShutdown) // no-op unless the server's base context ended first
	c.writeClose()
}

// flushGap is the current least time between writes to a busy connection
// (StreamLimits.FlushGap).
func (s *Server) flushGap() time.Duration {
	return min(s.limits.FlushGap, time.Duration(s.hub.subs.desks.Load())*s.gapPerDesk)
}

// writeBatch writes a batch of queued frames in as few system calls as
// the cork allows, skipping events the catch-up already sent. One
// deadline covers the batch: uncork, the one real write, enforces it.
func (c *client) writeBatch(batch []*frame, write func(*frame) error, sent *uint64) error {
	if err := c.conn.SetWriteDeadline(time.Now().Add(writeWait)); err != nil {
		return err
	}
	c.cork.cork()
	events := 0
	for _, f := range batch {
		if c.ctx.Err() != nil {
			break
		}
		if f.seq != 0 && f.seq <= *sent {
			continue
		}
		if f.seq != 0 {
			events++
		}
		if err := write(f); err != nil {
			_ = c.cork.uncork()
			return err
		}
	}
	c.srv.metrics.eventsStreamed.Add(float64(events))
	return c.cork.uncork()
}

// catchUp sends the events the client missed and the "live" marker, or a
// reset when the log does not reach back.
func (c *client) catchUp(write func(*frame) error, sent *uint64) error {
	hub := c.srv.hub
	var head uint64
	var err error
	if c.resume {
		head, err = hub.resume(c.ctx, c, c.after, write)
	} else {
		head, err = hub.attachAtHead(c)
	}
	var reason string
	switch {
	case errors.Is(err, errResumeTruncated):
		reason = "log_truncated"
	case errors.Is(err, errResumeAhead):
		reason = "ahead_of_log"
	case err != nil:
		return err
	}
	if reason != "" {
		c.srv.metrics.resets.Inc()
		if head, err = hub.attachAtHead(c); err != nil {
			return err
		}
		c.log.Info("stream reset", "reason", reason, "after", c.after, "head", head)
		if err := write(&frame{data: mustJSON(resetMessage{Type: "reset", Reason: reason, After: c.after, Seq: head,
			Message: "load a snapshot, then apply events with seq greater than its last_seq"})}); err != nil {
			return err
		}
	}
	if head > *sent {
		*sent = head
	}
	return write(&frame{data: mustJSON(liveMessage{Type: "live", Seq: head})})
}

func (c *client) failCatchUp(err error) {
	switch {
	case errors.Is(err, errHubClosed), c.ctx.Err() != nil:
		c.drop(dropShutdown)
	default:
		var ne net.Error
		if errors.As(err, &ne) || errors.Is(err, websocket.ErrCloseSent) {
			c.drop(dropWriteError)
			return
		}
		c.log.Error("stream catch-up failed", "after", c.after, "err", err)
		c.drop(dropLogTruncated)
	}
}

func (c *client) writePing() error {
	return c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait))
}

// writeClose sends the close frame for the end reason and gives the peer
// a moment to answer before the connection is torn down.
func (c *client) writeClose() {
	c.q.close()
	if c.endReason == dropClientClosed || c.endReason == dropWriteError || c.endReason == dropPongTimeout {
		return
	}
	msg := websocket.FormatCloseMessage(c.endCode, c.endText)
	if err := c.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(writeWait)); err != nil {
		return
	}
	select {
	case <-c.readerDone:
	case <-time.After(closeGrace):
	}
}

// finish releases everything the connection holds, once both loops are
// done with it.
func (c *client) finish() {
	c.srv.hub.unsubscribe(c)
	c.conn.Close()
	<-c.readerDone
	c.srv.metrics.connections.WithLabelValues(string(c.p.Role)).Dec()
	c.log.Debug("stream closed", "reason", c.endReason)
	c.srv.forget(c) // last: Shutdown may return as soon as this runs
}
