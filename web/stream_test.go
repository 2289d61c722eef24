package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/jjj-social-work/dispatch/dispatch"
)

func ev(typ, region, worker string) dispatch.Event {
	return dispatch.Event{Type: typ, Region: region, WorkerID: worker, Data: json.RawMessage(`{"n":1}`)}
}

func TestStreamFiltersByRole(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	conns := map[string]*websocket.Conn{}
	for _, cred := range []string{credCoord, credCoordHE, credWorker, credOtherWorker, credAdmin} {
		conns[cred] = f.mustDial(cred, "")
		if _, live := readUntilLive(t, conns[cred]); live.Type != "live" {
			t.Fatalf("%s: got %q, want live", cred, live.Type)
		}
	}
	narrowed := f.mustDial(credCoord, "regions=TJ")
	readUntilLive(t, narrowed)

	f.log.append(
		ev("incident.created", "HE", ""),      // 1
		ev("assignment.offered", "HE", "W1"),  // 2
		ev("worker.position", "BJ", "W2"),     // 3
		ev("assignment.offered", "TJ", "W2"),  // 4
		ev("policy.changed", "", ""),          // 5
		ev("assignment.accepted", "HE", "W1"), // 6
		ev("incident.created", "TJ", ""),      // 7
		ev("incident.closed", "BJ", ""),       // 8
	)
	want := map[string][]uint64{
		credCoord:       {1, 2, 3, 4, 5, 6, 7, 8},
		credAdmin:       {1, 2, 3, 4, 5, 6, 7, 8},
		credCoordHE:     {1, 2, 6},
		credWorker:      {2, 6},
		credOtherWorker: {3, 4},
	}
	for cred, w := range want {
		got := seqs(readEvents(t, conns[cred], len(w)))
		if !slices.Equal(got, w) {
			t.Errorf("%s: got seqs %v, want %v", cred, got, w)
		}
	}
	if got := seqs(readEvents(t, narrowed, 2)); !slices.Equal(got, []uint64{4, 7}) {
		t.Errorf("regions=TJ: got seqs %v, want [4 7]", got)
	}
	// Nothing more may arrive for the filtered ones.
	for _, cred := range []string{credCoordHE, credWorker} {
		if m, err := tryRead(conns[cred], 100*time.Millisecond); err == nil {
			t.Errorf("%s: got extra frame %+v", cred, m)
		}
	}
}

func TestStreamResumeNoGapNoDuplicate(t *testing.T) {
	for _, tc := range []struct {
		name string
		ring int
	}{
		{"from ring", 0},
		{"from store", 4}, // the ring is too small: catch-up reads the log
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, fixtureOptions{limits: StreamLimits{RingSize: tc.ring}})
			for i := 0; i < 10; i++ {
				f.log.append(ev("incident.created", "HE", ""))
			}
			waitFor(t, "hub at 10", func() bool { return f.srv.hub.Head() == 10 })
			c := f.mustDial(credCoord, "after=0")
			evs, live := readUntilLive(t, c)
			if got := seqs(evs); !slices.Equal(got, seqRange(1, 10)) || live.Seq != 10 {
				t.Fatalf("catch-up: got %v live %d, want 1..10 live 10", got, live.Seq)
			}
			f.log.append(ev("incident.created", "HE", ""), ev("incident.created", "HE", ""))
			evs = readEvents(t, c, 2)
			last := evs[1].Seq
			c.Close() // disconnected mid-stream
			waitFor(t, "hub at 12", func() bool { return f.srv.hub.Head() == 12 })

			// Missed while away; more arrive while the client catches up.
			for i := 0; i < 25; i++ {
				f.log.append(ev("incident.created", "HE", ""))
			}
			c2 := f.mustDial(credCoord, fmt.Sprintf("after=%d", last))
			go func() {
				for i := 0; i < 15; i++ {
					f.log.append(ev("incident.created", "HE", ""))
				}
			}()
			got, live := readUntilLive(t, c2)
			rest := readEvents(t, c2, int(52-live.Seq))
			all := append(seqs(got), seqs(rest)...)
			if !slices.Equal(all, seqRange(last+1, 52)) {
				t.Fatalf("resume after %d: got %v, want %d..52 exactly once each", last, all, last+1)
			}
		})
	}
}

func TestStreamResetWhenLogTruncated(t *testing.T) {
	f := newFixture(t, fixtureOptions{limits: StreamLimits{RingSize: 4}})
	for i := 0; i < 20; i++ {
		f.log.append(ev("incident.created", "HE", ""))
	}
	waitFor(t, "hub at 20", func() bool { return f.srv.hub.Head() == 20 })
	f.log.trim(10)
	c := f.mustDial(credCoord, "after=3")
	m := readMsg(t, c)
	if m.Type != "reset" || m.Reason != "log_truncated" || m.After != 3 || m.Seq != 20 {
		t.Fatalf("got %+v, want reset log_truncated after 3 seq 20", m)
	}
	if m := readMsg(t, c); m.Type != "live" || m.Seq != 20 {
		t.Fatalf("got %+v, want live 20", m)
	}
	f.log.append(ev("incident.created", "HE", ""))
	if got := readEvents(t, c, 1); got[0].Seq != 21 {
		t.Fatalf("after reset: got seq %d, want 21", got[0].Seq)
	}
}

func TestStreamResetWhenAheadOfLog(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.srv.hub.aheadGrace = 50 * time.Millisecond
	f.log.append(ev("incident.created", "HE", ""))
	waitFor(t, "hub at 1", func() bool { return f.srv.hub.Head() == 1 })
	c := f.mustDial(credCoord, "after=99")
	m := readMsg(t, c)
	if m.Type != "reset" || m.Reason != "ahead_of_log" || m.Seq != 1 {
		t.Fatalf("got %+v, want reset ahead_of_log seq 1", m)
	}
}

func TestStreamSlowConsumerIsCutOff(t *testing.T) {
	f := newFixture(t, fixtureOptions{limits: StreamLimits{QueueFrames: 32, QueueBytes: 256 << 10}})
	slow := f.mustDial(credCoord, "")
	fast := f.mustDial(credCoord, "")
	readUntilLive(t, slow)
	readUntilLive(t, fast)

	// The slow client stops reading. Events are large so the kernel's
	// socket buffers fill quickly and the server-side queue overflows.
	big := json.RawMessage(`{"pad":"` + strings.Repeat("x", 16<<10) + `"}`)
	const batch = 8 // fits the queue: the fast client, reading, never overflows
	total := 0
	drops := func() float64 { return counterValue(t, f.srv, "dispatch_stream_disconnects_total", "slow_consumer") }
	for drops() == 0 {
		if total > 4000 {
			t.Fatal("slow client never cut off")
		}
		evs := make([]dispatch.Event, batch)
		for i := range evs {
			evs[i] = dispatch.Event{Type: "worker.position", Region: "HE", WorkerID: "W9", Data: big}
		}
		f.log.append(evs...)
		total += batch
		if got := readEvents(t, fast, batch); got[batch-1].Seq != uint64(total) {
			t.Fatalf("fast client: got seq %d, want %d", got[batch-1].Seq, total)
		}
	}
	// The fast one keeps receiving.
	f.log.append(ev("incident.created", "HE", ""))
	if got := readEvents(t, fast, 1); got[0].Seq != uint64(total+1) {
		t.Fatalf("fast client after the cut: got seq %d, want %d", got[0].Seq, total+1)
	}
	// The slow one, reading again, finds what was sent and then the close.
	var err error
	n := 0
	start := time.Now()
	for err == nil {
		_, err = tryRead(slow, 5*time.Second)
		n++
	}
	t.Logf("slow client read %d frames in %v, sent %d", n, time.Since(start), total)
	if !websocket.IsCloseError(err, CloseSlowConsumer) {
		t.Fatalf("slow client: got %v, want close %d", err, CloseSlowConsumer)
	}
}

func TestStreamOriginRefused(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	for _, tc := range []struct {
		origin string
		want   int
	}{
		{"https://evil.example", http.StatusForbidden},
		{"null", http.StatusForbidden},
		{f.ts.URL, http.StatusSwitchingProtocols},
	} {
		h := http.Header{"Authorization": {"Bearer " + f.tokens[credCoord]}, "Origin": {tc.origin}}
		c, resp, err := websocket.DefaultDialer.Dial(f.wsURL(""), h)
		if c != nil {
			c.Close()
		}
		if resp == nil {
			t.Fatalf("origin %s: no response: %v", tc.origin, err)
		}
		if resp.StatusCode != tc.want {
			t.Errorf("origin %s: got %d, want %d", tc.origin, resp.StatusCode, tc.want)
		}
	}
}

func TestStreamOversizeFrameRefused(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	c := f.mustDial(credWorker, "")
	readUntilLive(t, c)
	msg := `{"type":"ping","id":"` + strings.Repeat("x", maxFrame) + `"}`
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	var err error
	for err == nil {
		_, err = tryRead(c, 5*time.Second)
	}
	if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Fatalf("got %v, want close %d", err, websocket.CloseMessageTooBig)
	}
}

func TestStreamShutdownSendsGoingAway(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	c := f.mustDial(credCoord, "")
	readUntilLive(t, c)
	done := make(chan error, 1)
	go func() {
		_, err := tryRead(c, 5*time.Second)
		done <- err
	}()
	f.close()
	if err := f.srv.Shutdown(t.Context()); err != nil { // a second call is harmless
		t.Errorf("second shutdown: %v", err)
	}
	if err := <-done; !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Fatalf("got %v, want close 1001", err)
	}
}

func TestStreamTicket(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	code, body := f.do("POST", "/api/v1/ws-ticket", credWorker, "", "")
	if code != http.StatusCreated {
		t.Fatalf("ticket: got %d %s, want 201", code, body)
	}
	var tr ticketResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		t.Fatal(err)
	}
	c, _, err := websocket.DefaultDialer.Dial(f.wsURL("ticket="+tr.Ticket), nil)
	if err != nil {
		t.Fatalf("dial with ticket: %v", err)
	}
	defer c.Close()
	readUntilLive(t, c)
	// Single use.
	_, resp, err := websocket.DefaultDialer.Dial(f.wsURL("ticket="+tr.Ticket), nil)
	if err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("reused ticket: got %v, want 401", resp)
	}
	// Expired.
	_, body = f.do("POST", "/api/v1/ws-ticket", credWorker, "", "")
	_ = json.Unmarshal(body, &tr)
	f.clock.Set(f.clock.Now().Add(ticketTTL + time.Second))
	_, resp, err = websocket.DefaultDialer.Dial(f.wsURL("ticket="+tr.Ticket), nil)
	if err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("expired ticket: got %v, want 401", resp)
	}
}

func TestStreamWorkerMessages(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	c := f.mustDial(credWorker, "")
	readUntilLive(t, c)
	for _, tc := range []struct {
		msg, wantType, wantCode, wantField string
	}{
		{`{"type":"ping","id":"p1"}`, "ack", "", ""},
		{`{"type":"position","id":"p2","lat":91,"lng":116}`, "error", CodeInvalidField, "lat"},
		{`{"type":"teleport","id":"p3"}`, "error", CodeInvalidField, "type"},
		{`not json`, "error", CodeBadJSON, ""},
	} {
		if err := c.WriteMessage(websocket.TextMessage, []byte(tc.msg)); err != nil {
			t.Fatal(err)
		}
		m := readMsg(t, c)
		if m.Type != tc.wantType {
			t.Errorf("%s: got %q, want %q", tc.msg, m.Type, tc.wantType)
			continue
		}
		if tc.wantType == "error" && (m.Error.Code != tc.wantCode || m.Error.Field != tc.wantField) {
			t.Errorf("%s: got %s/%s, want %s/%s", tc.msg, m.Error.Code, m.Error.Field, tc.wantCode, tc.wantField)
		}
	}
	// A coordinator may not send.
	cc := f.mustDial(credCoord, "")
	readUntilLive(t, cc)
	_ = cc.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping","id":"x"}`))
	if m := readMsg(t, cc); m.Type != "error" || m.Error.Code != CodeForbidden {
		t.Errorf("coordinator message: got %+v, want forbidden error", m)
	}
}

func TestStreamRevokedCredentialRefused(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	for _, cred := range []string{credNone, credExpired, credRevoked} {
		_, resp, err := f.dial(cred, "")
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: got %v, want 401", cred, resp)
		}
	}
	if _, resp, _ := f.dial(credWorker, "regions=HE"); resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("worker with regions: want 403")
	}
	if _, resp, _ := f.dial(credCoordHE, "regions=BJ"); resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("HE desk asking BJ: want 403")
	}
	if _, resp, _ := f.dial(credCoord, "after=-1"); resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("after=-1: want 400")
	}
}

func counterValue(t *testing.T, s *Server, name, label string) float64 {
	t.Helper()
	mfs, err := s.metrics.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetValue() == label {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// A credential revoked while its stream is open is cut off at the next
// heartbeat with 4001.
func TestStreamRevokedWhileOpen(t *testing.T) {
	f := newFixture(t, fixtureOptions{limits: StreamLimits{PongWait: 100 * time.Millisecond}})
	c := f.mustDial(credCoordHE, "")
	readUntilLive(t, c)
	id, _ := tokenID(f.tokens[credCoordHE])
	if err := f.creds.Revoke(id); err != nil {
		t.Fatal(err)
	}
	var err error
	for err == nil {
		_, err = tryRead(c, 5*time.Second)
	}
	if !websocket.IsCloseError(err, CloseCredential) {
		t.Fatalf("got %v, want close %d", err, CloseCredential)
	}
}

// A worker flooding its socket gets rate_limited errors, not the engine.
func TestStreamWorkerRateLimit(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	c := f.mustDial(credWorker, "")
	readUntilLive(t, c)
	const n = 40
	for i := range n {
		if err := c.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `{"type":"ping","id":"k%d"}`, i)); err != nil {
			t.Fatal(err)
		}
	}
	limited := 0
	for range n {
		m := readMsg(t, c)
		if m.Type == "error" && m.Error.Code == "rate_limited" {
			limited++
		}
	}
	if limited == 0 || limited > n-int(msgBurst) {
		t.Fatalf("got %d rate_limited of %d, want between 1 and %d", limited, n, n-int(msgBurst))
	}
}
