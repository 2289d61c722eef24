package sim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Stream timing, as the browser pages do it: the server pings every 54 s,
// so a minute and a half of silence means the connection is gone.
const (
	streamReadWait  = 90 * time.Second
	deadlineEvery   = 256 // frames between pushes of the read deadline
	streamWriteWait = 10 * time.Second
	backoffMin      = 100 * time.Millisecond
	backoffMax      = 5 * time.Second
	// closeCredential is the server's close code for a revoked or expired
	// credential: reconnecting cannot help.
	closeCredential = 4001
	// codeRateLimited is the server's answer to too many messages; the
	// message is resent after rateLimitPause.
	codeRateLimited = "rate_limited"
	rateLimitPause  = time.Second
)

var (
	errNotConnected = errors.New("stream not connected")
	errRefused      = errors.New("stream refused")
)

// streamConfig configures one stream connection.
type streamConfig struct {
	api *apiClient // its token authenticates the stream
	// ticket authenticates with a single-use ticket, as a browser must;
	// otherwise the bearer header, as other clients may.
	ticket bool
	// contiguous says every event is due (an unscoped coordinator), so a
	// skipped sequence number is a lost event.
	contiguous bool
	dialer     *websocket.Dialer
	log        *slog.Logger
	// onEvent gets each new event on the reader goroutine; raw is valid
	// only during the call.
	onEvent func(h eventHead, raw []byte)
	// onReply gets acks and error replies to this client's messages.
	onReply func(f frame)
	// onLive runs after each live marker; resumed is false the first time.
	onLive func(resumed bool)
	// onReset runs when the server says the log no longer reaches back:
	// the client must reload its picture.
	onReset func()
}

// streamStats count what a stream saw; lost and duplicated events must
// stay zero.
type streamStats struct {
	Events     atomic.Uint64
	Duplicates atomic.Uint64
	Gaps       atomic.Uint64 // missing sequence numbers (contiguous streams)
	Reconnects atomic.Uint64
	Resets     atomic.Uint64
	Retries    atomic.Uint64 // messages resent after the server rate-limited them
	// Last is the last sequence applied, for readers off the stream's
	// goroutine (a load run waits for every stream to reach the head).
	Last atomic.Uint64
}

// streamConn is one event stream kept the way real clients keep it: it
// resumes after a disconnect from the last sequence it applied, and it
// resends the messages the server has not acknowledged. One goroutine
// (run) reads; any goroutine may send.
type streamConn struct {
	cfg   streamConfig
	stats streamStats

	wmu     sync.Mutex
	conn    *websocket.Conn
	pending map[string][]byte // unacknowledged messages by id
	closed  bool

	// Reader goroutine only.
	sinceDeadline int    // frames read since the read deadline was last pushed
	last          uint64 // last event sequence applied
	based         bool   // a live marker has fixed where the stream starts
	buf           bytes.Buffer
}

func newStreamConn(cfg streamConfig) *streamConn {
	if cfg.log == nil {
		cfg.log = slog.New(slog.DiscardHandler)
	}
	return &streamConn{cfg: cfg}
}

// connect dials and reads up to the live marker.
func (s *streamConn) connect(ctx context.Context) error {
	c, err := s.dial(ctx)
	if err != nil {
		return err
	}
	s.wmu.Lock()
	if s.closed {
		s.wmu.Unlock()
		c.Close()
		return fmt.Errorf("connect stream: %w", context.Canceled)
	}
	s.conn = c
	s.wmu.Unlock()
	resumed := s.based
	for {
		typ, err := s.readOne(c)
		if err != nil {
			return fmt.Errorf("connect stream: %w", err)
		}
		if typ == frameLive {
			break
		}
	}
	s.resend()
	if s.cfg.onLive != nil {
		s.cfg.onLive(resumed)
	}
	return nil
}

func (s *streamConn) dial(ctx context.Context) (*websocket.Conn, error) {
	u, hdr, err := s.target(ctx)
	if err != nil {
		return nil, err
	}
	c, resp, err := s.cfg.dialer.DialContext(ctx, u, hdr)
	if err != nil {
		if resp != nil && resp.StatusCode/100 == 4 {
			return nil, fmt.Errorf("dial stream: %w: http %d", errRefused, resp.StatusCode)
		}
		return nil, fmt.Errorf("dial stream: %w", err)
	}
	c.SetPingHandler(func(data string) error {
		_ = c.SetReadDeadline(time.Now().Add(streamReadWait))
		err := c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(streamWriteWait))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		return err
	})
	_ = c.SetReadDeadline(time.Now().Add(streamReadWait))
	return c, nil
}

// target builds the stream URL (resuming after the last sequence) and the
// authentication.
func (s *streamConn) target(ctx context.Context) (string, http.Header, error) {
	base := s.cfg.api.base
	u := "ws" + strings.TrimPrefix(base, "http") + routeStream
	q := url.Values{}
	if s.based {
		q.Set("after", strconv.FormatUint(s.last, 10))
	}
	hdr := http.Header{}
	if s.cfg.ticket {
		t, err := s.cfg.api.ticket(ctx)
		if err != nil {
			return "", nil, err
		}
		q.Set("ticket", t)
	} else {
		hdr.Set("Authorization", "Bearer "+s.cfg.api.token)
	}
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u, hdr, nil
}

// run reads until ctx ends, reconnecting with backoff after failures. It
// returns nil when ctx ends, or an error the server will not get over
// (a refused credential).
func (s *streamConn) run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, s.close)
	defer stop()
	delay := backoffMin
	for {
		s.wmu.Lock()
		c := s.conn
		s.wmu.Unlock()
		if c != nil {
			err := s.readLoop(c)
			if ctx.Err() != nil {
				return nil
			}
			if isCredentialClose(err) {
				return fmt.Errorf("stream: %w: credential refused", errRefused)
			}
			s.cfg.log.Debug("stream dropped; resuming", "after", s.last, "err", err)
			s.drop(c)
			delay = backoffMin
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(jitter(delay)):
		}
		delay = min(delay*2, backoffMax)
		s.stats.Reconnects.Add(1)
		if err := s.connect(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, errRefused) {
				return err
			}
			s.cfg.log.Debug("stream reconnect failed", "err", err)
			s.dropCurrent()
		}
	}
}

func jitter(d time.Duration) time.Duration {
	return d/2 + time.Duration(rand.Int64N(int64(d)))
}

func isCredentialClose(err error) bool {
	var ce *websocket.CloseError
	return errors.As(err, &ce) && ce.Code == closeCredential
}

func (s *streamConn) readLoop(c *websocket.Conn) error {
	for {
		if _, err := s.readOne(c); err != nil {
			return err
		}
	}
}

// readOne reads and handles one frame, returning its type. The server's
// pings push the read deadline on (the ping handler); frames do too, but
// only every deadlineEvery of them: a desk reads a thousand a second, and
// reading the clock for each costs more than handling it.
func (s *streamConn) readOne(c *websocket.Conn) (string, error) {
	if s.sinceDeadline++; s.sinceDeadline >= deadlineEvery {
		s.sinceDeadline = 0
		_ = c.SetReadDeadline(time.Now().Add(streamReadWait))
	}
	_, r, err := c.NextReader()
	if err != nil {
		return "", err
	}
	s.buf.Reset()
	if _, err := s.buf.ReadFrom(r); err != nil {
		return "", err
	}
	return s.handle(s.buf.Bytes())
}

func (s *streamConn) handle(b []byte) (string, error) {
	if h, ok := peekEvent(b); ok {
		s.event(h, b)
		return frameEvent, nil
	}
	f, err := decodeFrame(b)
	if err != nil {
		return "", err
	}
	switch f.Type {
	case frameEvent:
		s.event(headOf(f.Event), b)
	case frameLive:
		s.live(f.Seq)
	case frameReset:
		s.stats.Resets.Add(1)
		s.last, s.based = f.Seq, true
		s.stats.Last.Store(f.Seq)
		if s.cfg.onReset != nil {
			s.cfg.onReset()
		}
	case frameAck, frameError:
		if f.Type == frameError && f.Error != nil && f.Error.Code == codeRateLimited && s.retryLater(f.ID) {
			return f.Type, nil // the server asks to slow down and resend
		}
		s.acked(f.ID)
		if s.cfg.onReply != nil {
			s.cfg.onReply(f)
		}
	}
	return f.Type, nil
}

// event checks the sequence and hands a new event on.
func (s *streamConn) event(h eventHead, raw []byte) {
	if s.based && h.Seq <= s.last {
		s.stats.Duplicates.Add(1)
		return
	}
	if s.cfg.contiguous && s.based && h.Seq != s.last+1 {
		s.stats.Gaps.Add(h.Seq - s.last - 1)
	}
	s.last, s.based = h.Seq, true
	s.stats.Last.Store(h.Seq)
	s.stats.Events.Add(1)
	s.cfg.onEvent(h, raw)
}

// live marks the end of catch-up. For a contiguous stream, a head beyond
// the last event applied means events were skipped.
func (s *streamConn) live(seq uint64) {
	if !s.based {
		s.last, s.based = seq, true
	} else if seq > s.last {
		if s.cfg.contiguous {
			s.stats.Gaps.Add(seq - s.last)
		}
		s.last = seq
	}
	s.stats.Last.Store(s.last)
}

// drop forgets a failed connection.
func (s *streamConn) drop(c *websocket.Conn) {
	s.wmu.Lock()
	if s.conn == c {
		s.conn = nil
	}
	s.wmu.Unlock()
	c.Close()
}

func (s *streamConn) dropCurrent() {
	s.wmu.Lock()
	c := s.conn
	s.conn = nil
	s.wmu.Unlock()
	if c != nil {
		c.Close()
	}
}

// close ends the stream for good with a normal close frame; it unblocks
// the reader.
func (s *streamConn) close() {
	s.wmu.Lock()
	c := s.conn
	s.closed = true
	s.wmu.Unlock()
	if c == nil {
		return
	}
	_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""),
		time.Now().Add(time.Second))
	c.Close()
}
