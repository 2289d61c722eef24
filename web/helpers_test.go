package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/jjj-social-work/dispatch/dispatch"
)

// fakeLog is an in-memory event log with a change feed, for stream tests
// that must not depend on the engine.
type fakeLog struct {
	mu      sync.Mutex
	events  []dispatch.Event
	trimmed uint64 // events with seq <= trimmed are gone
	lost    bool   // loseAfter ran: followers past the end are told
	changed chan struct{}
}

func newFakeLog() *fakeLog { return &fakeLog{changed: make(chan struct{})} }

func (l *fakeLog) append(evs ...dispatch.Event) []dispatch.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]dispatch.Event, 0, len(evs))
	for _, ev := range evs {
		ev.Seq = l.lastLocked() + 1
		if ev.Time.IsZero() {
			ev.Time = time.Unix(1700000000, 0).UTC()
		}
		l.events = append(l.events, ev)
		out = append(out, ev)
	}
	close(l.changed)
	l.changed = make(chan struct{})
	return out
}

func (l *fakeLog) lastLocked() uint64 {
	if len(l.events) == 0 {
		return l.trimmed
	}
	return l.events[len(l.events)-1].Seq
}

// trim drops every event with seq <= upto.
func (l *fakeLog) trim(upto uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := 0
	for i < len(l.events) && l.events[i].Seq <= upto {
		i++
	}
	l.events = slices.Clone(l.events[i:])
	l.trimmed = upto
}

func (l *fakeLog) EventsAfter(ctx context.Context, after uint64, limit int) ([]dispatch.Event, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if after < l.trimmed {
		return nil, dispatch.ErrLogTruncated
	}
	var out []dispatch.Event
	for _, ev := range l.events {
		if ev.Seq > after && len(out) < limit {
			out = append(out, ev)
		}
	}
	return out, nil
}

func (l *fakeLog) Follow(ctx context.Context, after uint64, fn func([]dispatch.Event)) error {
	for {
		l.mu.Lock()
		if after < l.trimmed || (l.lost && after > l.lastLocked()) {
			l.mu.Unlock()
			return dispatch.ErrLogTruncated
		}
		var evs []dispatch.Event
		for _, ev := range l.events {
			if ev.Seq > after {
				evs = append(evs, ev)
			}
		}
		ch := l.changed
		l.mu.Unlock()
		if len(evs) > 0 {
			fn(evs)
			after = evs[len(evs)-1].Seq
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// testClock is a settable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock { return &testClock{t: time.Now()} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Credentials used across the tests, by name.
const (
	credNone        = "none"
	credExpired     = "expired"
	credRevoked     = "revoked"
	credWorker      = "worker"       // worker W1
	credOtherWorker = "other_worker" // worker W2
	credCoordOther  = "coord_other"  // coordinator scoped to BJ
	credCoordHE     = "coord_he"     // coordinator scoped to HE
	credCoord       = "coord"        // joint desk: all regions
	credAdmin       = "admin"
)

type fixture struct {
	t      testing.TB
	log    *fakeLog
	srv    *Server
	ts     *httptest.Server
	creds  *Credentials
	clock  *testClock
	tokens map[string]string
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

type fixtureOptions struct {
	limits StreamLimits
	engine Engine
	events EventLog
	start  uint64
	quiet  bool // no server logs (fuzzing)
}

func newFixture(t testing.TB, fo fixtureOptions) *fixture {
	t.Helper()
	clock := newTestClock()
	creds, err := OpenCredentials(filepath.Join(t.TempDir(), "credentials.json"), clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, log: newFakeLog(), creds: creds, clock: clock, tokens: map[string]string{}}
	issue := func(name string, req IssueRequest) {
		if req.TTL == 0 {
			req.TTL = time.Hour
		}
		tok, _, err := creds.Issue(req)
		if err != nil {
			t.Fatalf("issue %s: %v", name, err)
		}
		f.tokens[name] = tok
	}
	now := clock.Now()
	clock.Set(now.Add(-2 * time.Hour))
	issue(credExpired, IssueRequest{Name: "old", Role: RoleCoordinator})
	clock.Set(now)
	issue(credRevoked, IssueRequest{Name: "gone", Role: RoleCoordinator})
	id, _ := tokenID(f.tokens[credRevoked])
	if err := creds.Revoke(id); err != nil {
		t.Fatal(err)
	}
	issue(credWorker, IssueRequest{Name: "w1", Role: RoleWorker, WorkerID: "W1"})
	issue(credOtherWorker, IssueRequest{Name: "w2", Role: RoleWorker, WorkerID: "W2"})
	issue(credCoordOther, IssueRequest{Name: "Beijing desk", Role: RoleCoordinator, Regions: []string{"BJ"}})
	issue(credCoordHE, IssueRequest{Name: "Hebei desk", Role: RoleCoordinator, Regions: []string{"HE"}})
	issue(credCoord, IssueRequest{Name: "joint desk", Role: RoleCoordinator})
	issue(credAdmin, IssueRequest{Name: "admin", Role: RoleAdmin})

	events := fo.events
	if events == nil {
		events = f.log
	}
	srv, err := New(Options{Auth: creds, Events: events, StartSeq: fo.start, Engine: fo.engine,
		Limits: fo.limits, Now: clock.Now, Logger: loggerFor(t, fo.quiet)})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	f.ts = httptest.NewServer(srv.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	f.done = make(chan error, 1)
	go func() { f.done <- srv.Run(ctx) }()
	t.Cleanup(f.close)
	waitFor(t, "hub live", srv.hub.Live)
	return f
}

func (f *fixture) close() { f.once.Do(f.closeOnce) }

func (f *fixture) closeOnce() {
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.srv.Shutdown(sctx); err != nil {
		f.t.Errorf("shutdown: %v", err)
	}
	f.cancel()
	if err := <-f.done; err != nil {
		f.t.Errorf("hub run: %v", err)
	}
	f.ts.Close()
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// do sends a request with the named credential and returns status and body.
func (f *fixture) do(method, path, cred, contentType string, body string) (int, []byte) {
	f.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.ts.URL+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	if tok := f.tokens[cred]; tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := f.ts.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (f *fixture) wsURL(query string) string {
	u := "ws" + strings.TrimPrefix(f.ts.URL, "http") + "/api/v1/stream"
	if query != "" {
		u += "?" + query
	}
	return u
}

// dial opens a stream with the named credential in the header.
func (f *fixture) dial(cred, query string) (*websocket.Conn, *http.Response, error) {
	h := http.Header{}
	if tok := f.tokens[cred]; tok != "" {
		h.Set("Authorization", "Bearer "+tok)
	}
	return websocket.DefaultDialer.Dial(f.wsURL(query), h)
}

func (f *fixture) mustDial(cred, query string) *websocket.Conn {
	f.t.Helper()
	c, resp, err := f.dial(cred, query)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		f.t.Fatalf("dial %s %s: %v (status %d)", cred, query, err, status)
	}
	f.t.Cleanup(func() { c.Close() })
	return c
}

// wireMsg is any server→client frame.
type wireMsg struct {
	Type   string          `json:"type"`
	ID     string          `json:"id"`
	Seq    uint64          `json:"seq"`
	After  uint64          `json:"after"`
	Reason string          `json:"reason"`
	Event  *dispatch.Event `json:"event"`
	Error  *APIError       `json:"error"`
	Result json.RawMessage `json:"result"`
}

func readMsg(t *testing.T, c *websocket.Conn) wireMsg {
	t.Helper()
	m, err := tryRead(c, 5*time.Second)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return m
}

func tryRead(c *websocket.Conn, d time.Duration) (wireMsg, error) {
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, b, err := c.ReadMessage()
	if err != nil {
		return wireMsg{}, err
	}
	var m wireMsg
	if err := json.Unmarshal(b, &m); err != nil {
		return wireMsg{}, fmt.Errorf("frame %s: %w", b, err)
	}
	return m, nil
}

// readUntilLive reads event frames up to the "live" marker.
func readUntilLive(t *testing.T, c *websocket.Conn) (events []dispatch.Event, live wireMsg) {
	t.Helper()
	for {
		m := readMsg(t, c)
		switch m.Type {
		case "event":
			events = append(events, *m.Event)
		case "live", "reset":
			if m.Type == "reset" {
				live = m
				continue
			}
			if live.Type == "reset" {
				return events, live
			}
			return events, m
		default:
			t.Fatalf("got frame %+v before live", m)
		}
	}
}

// readEvents reads n event frames.
func readEvents(t *testing.T, c *websocket.Conn, n int) []dispatch.Event {
	t.Helper()
	var out []dispatch.Event
	for len(out) < n {
		m := readMsg(t, c)
		if m.Type != "event" {
			t.Fatalf("got %q frame, want event (have %d of %d)", m.Type, len(out), n)
		}
		out = append(out, *m.Event)
	}
	return out
}

func seqs(evs []dispatch.Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, e := range evs {
		out[i] = e.Seq
	}
	return out
}

func seqRange(from, to uint64) []uint64 {
	var out []uint64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

// LastSeq makes fakeLog a logHead, as the Redis store is.
func (l *fakeLog) LastSeq(ctx context.Context) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastLocked(), nil
}

// loseAfter forgets every event with seq > keep, as a Redis that lost its
// data does; sequence numbers after keep are handed out again and a
// follower already past keep learns that the log no longer reaches it.
func (l *fakeLog) loseAfter(keep uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := 0
	for i < len(l.events) && l.events[i].Seq <= keep {
		i++
	}
	l.events = slices.Clone(l.events[:i])
	l.lost = true
	close(l.changed)
	l.changed = make(chan struct{})
}
