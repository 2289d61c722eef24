package web

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/jjj-social-work/dispatch/dispatch"
)

// streamWrites sums the system calls the server's stream connections made.
func streamWrites(s *Server) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.clients {
		c.cork.mu.Lock()
		n += c.cork.writes
		c.cork.mu.Unlock()
	}
	return n
}

// A burst of events reaches a desk complete and in order, in far fewer
// writes than events: the writer sends what is queued in one go.
func TestStreamBatchesWrites(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	c := f.mustDial(credCoord, "")
	readUntilLive(t, c)
	before := streamWrites(f.srv)
	const n = 2000
	for i := 0; i < n; i += 100 {
		evs := make([]dispatch.Event, 100)
		for j := range evs {
			evs[j] = ev("assignment.offered", "HE", "W1")
		}
		f.log.append(evs...)
	}
	got := readEvents(t, c, n)
	if !slices.Equal(seqs(got), seqRange(1, n)) {
		t.Fatalf("got %d events out of order or with gaps", len(got))
	}
	writes := streamWrites(f.srv) - before
	t.Logf("%d events in %d writes", n, writes)
	if writes*4 > n {
		t.Fatalf("%d events took %d writes; want batches (at most a quarter as many writes)", n, writes)
	}
}

// When the shared log starts again below where the hub was (Redis lost
// data), open streams get an in-band reset and then the new events, even
// though their sequence numbers were already used; the node stays up.
func TestStreamResetWhenLogRestarts(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	for range 10 {
		f.log.append(ev("incident.created", "HE", ""))
	}
	c := f.mustDial(credCoord, "after=0")
	if got, _ := readUntilLive(t, c); len(got) != 10 {
		t.Fatalf("catch-up: got %d events, want 10", len(got))
	}
	f.log.loseAfter(4)
	m := readMsg(t, c)
	if m.Type != "reset" || m.Reason != "log_reset" || m.Seq != 4 {
		t.Fatalf("got %+v, want reset log_reset seq 4", m)
	}
	waitFor(t, "hub at 4", func() bool { return f.srv.hub.Head() == 4 && f.srv.hub.Live() })
	f.log.append(ev("incident.created", "HE", ""), ev("incident.created", "TJ", ""))
	if got := readEvents(t, c, 2); !slices.Equal(seqs(got), []uint64{5, 6}) {
		t.Fatalf("after the reset: got %v, want 5, 6", seqs(got))
	}
	// A client that resumes from the old world's numbers is told to reload.
	f.srv.hub.aheadGrace = 50 * time.Millisecond
	c2 := f.mustDial(credCoord, "after=10")
	if m := readMsg(t, c2); m.Type != "reset" || m.Seq != 6 {
		t.Fatalf("stale resume: got %+v, want a reset at 6", m)
	}
}

// countingConn counts writes and keeps what was written.
type countingConn struct {
	net.Conn
	mu     sync.Mutex
	writes int
	data   []byte
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes++
	c.data = append(c.data, p...)
	return len(p), nil
}

func (c *countingConn) SetWriteDeadline(time.Time) error { return nil }

func TestCorkConn(t *testing.T) {
	under := &countingConn{}
	c := &corkConn{Conn: under}
	mustWrite := func(s string) {
		t.Helper()
		if n, err := c.Write([]byte(s)); err != nil || n != len(s) {
			t.Fatalf("write %q: %d, %v", s, n, err)
		}
	}
	mustWrite("a") // not corked: straight through
	c.cork()
	mustWrite("b")
	mustWrite("c")
	if under.writes != 1 {
		t.Fatalf("corked writes reached the socket: %d writes", under.writes)
	}
	if err := c.uncork(); err != nil {
		t.Fatal(err)
	}
	if under.writes != 2 || string(under.data) != "abc" {
		t.Fatalf("after uncork: %d writes of %q, want 2 of abc", under.writes, under.data)
	}
	// A batch larger than the buffer goes out in pieces, in order.
	c.cork()
	big := make([]byte, corkLimit/3)
	for i := range big {
		big[i] = 'x'
	}
	for range 4 {
		mustWrite(string(big))
	}
	if err := c.uncork(); err != nil {
		t.Fatal(err)
	}
	if len(under.data) != 3+4*len(big) || under.writes > 4 {
		t.Fatalf("big batch: %d bytes in %d writes", len(under.data), under.writes)
	}
	if err := c.uncork(); err != nil { // uncorking twice is harmless
		t.Fatal(err)
	}
}

// Events that trickle in one at a time still share writes: two writes to
// one connection are at least FlushGap apart, and none is lost or late
// beyond it.
func TestStreamFlushGap(t *testing.T) {
	const gap = 20 * time.Millisecond
	f := newFixture(t, fixtureOptions{limits: StreamLimits{FlushGap: gap}})
	f.srv.gapPerDesk = time.Hour // one desk takes the whole gap
	c := f.mustDial(credCoord, "")
	readUntilLive(t, c)
	before := streamWrites(f.srv)
	start := time.Now()
	const n = 100
	done := make(chan []dispatch.Event)
	go func() { done <- readEvents(t, c, n) }()
	for range n {
		f.log.append(ev("assignment.offered", "HE", "W1"))
		time.Sleep(time.Millisecond)
	}
	got := <-done
	elapsed := time.Since(start)
	if !slices.Equal(seqs(got), seqRange(1, n)) {
		t.Fatalf("got %v, want 1..%d", seqs(got), n)
	}
	writes := streamWrites(f.srv) - before
	limit := int(elapsed/gap) + 1
	t.Logf("%d events over %v in %d writes (at most %d allowed)", n, elapsed, writes, limit)
	if writes > limit {
		t.Fatalf("%d writes in %v: closer together than %v", writes, elapsed, gap)
	}
}

// Frames built by wireFrame read back in a real websocket client as the
// messages they carry, at every length encoding (7-bit, 16-bit, 64-bit),
// corked or not.
func TestWireFrameReadsBack(t *testing.T) {
	sizes := []int{0, 1, 125, 126, 127, 65535, 65536, 100000}
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &corkingWriter{ResponseWriter: w}
		conn, err := up.Upgrade(cw, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		for i, n := range sizes {
			if i%2 == 1 {
				cw.conn.cork()
			}
			if err := cw.conn.writeRaw(wireFrame(bytes.Repeat([]byte{'a' + byte(i)}, n))); err != nil {
				t.Error(err)
				return
			}
			if i%2 == 1 {
				if err := cw.conn.uncork(); err != nil {
					t.Error(err)
					return
				}
			}
		}
		_, _, _ = conn.ReadMessage() // until the client goes
	}))
	defer srv.Close()
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i, n := range sizes {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		typ, b, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("message %d (%d bytes): %v", i, n, err)
		}
		if typ != websocket.TextMessage || !bytes.Equal(b, bytes.Repeat([]byte{'a' + byte(i)}, n)) {
			t.Fatalf("message %d: got type %d, %d bytes; want text of %d", i, typ, len(b), n)
		}
	}
}

// With few desks the gap shrinks (gapPerDesk each): one desk receiving a
// steady trickle is never held back anywhere near the configured bound.
func TestStreamFlushGapScalesWithDesks(t *testing.T) {
	f := newFixture(t, fixtureOptions{limits: StreamLimits{FlushGap: time.Second}})
	c := f.mustDial(credCoord, "")
	readUntilLive(t, c)
	if got := f.srv.flushGap(); got != gapPerDesk {
		t.Fatalf("one desk: gap %v, want %v", got, gapPerDesk)
	}
	var worst time.Duration
	for range 20 {
		start := time.Now()
		f.log.append(ev("assignment.offered", "HE", "W1"))
		readEvents(t, c, 1)
		worst = max(worst, time.Since(start))
	}
	if worst >= 500*time.Millisecond {
		t.Fatalf("an event took %v with one desk; the gap did not shrink", worst)
	}
}
