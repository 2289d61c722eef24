package main

// Stream clients of the process tests, and checks of what they received
// against the log.

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/jjj-social-work/dispatch/dispatch"
)

// wireEvent is an event as the stream sends it.
type wireEvent struct {
	Seq          uint64          `json:"seq"`
	Time         time.Time       `json:"time"`
	Type         string          `json:"type"`
	Region       string          `json:"region"`
	WorkerID     string          `json:"worker_id"`
	IncidentID   string          `json:"incident_id"`
	AssignmentID string          `json:"assignment_id"`
	Data         json.RawMessage `json:"data"`
}

type wireFrame struct {
	Type   string     `json:"type"`
	Event  *wireEvent `json:"event"`
	Seq    uint64     `json:"seq"`
	Reason string     `json:"reason"`
}

// streamClient is a stream that resumes after the last event it saw,
// whenever its connection breaks, on whatever node target names. A
// worker's client may accept every offer it is sent.
type streamClient struct {
	name, token, worker string
	accept              bool
	target              *atomic.Pointer[proc]

	mu     sync.Mutex
	events []wireEvent
	live   uint64 // seq of the last live frame
	resets []wireFrame
	conns  int

	stop context.CancelFunc
	done chan struct{}
}

func newStreamClient(name, token, worker string, accept bool, target *atomic.Pointer[proc]) *streamClient {
	ctx, stop := context.WithCancel(context.Background())
	c := &streamClient{name: name, token: token, worker: worker, accept: accept, target: target,
		stop: stop, done: make(chan struct{})}
	go c.run(ctx)
	return c
}

func (c *streamClient) run(ctx context.Context) {
	defer close(c.done)
	for ctx.Err() == nil {
		c.session(ctx)
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// session is one connection, until it breaks or ctx ends.
func (c *streamClient) session(ctx context.Context) {
	c.mu.Lock()
	var after uint64
	if len(c.events) > 0 {
		after = c.events[len(c.events)-1].Seq
	}
	c.mu.Unlock()
	url := "ws://" + c.target.Load().addr + "/api/v1/stream?after=" + strconv.FormatUint(after, 10)
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, resp, err := d.DialContext(ctx, url, http.Header{"Authorization": {"Bearer " + c.token}})
	if err != nil {
		return
	}
	resp.Body.Close()
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	c.mu.Lock()
	c.conns++
	c.mu.Unlock()
	for {
		_, b, err := conn.ReadMessage()
		if err != nil {
			return
		}
		var f wireFrame
		if err := json.Unmarshal(b, &f); err != nil {
			return
		}
		c.mu.Lock()
		switch f.Type {
		case "event":
			c.events = append(c.events, *f.Event)
		case "live":
			c.live = f.Seq
		case "reset":
			c.resets = append(c.resets, f)
		}
		c.mu.Unlock()
		if e := f.Event; c.accept && e != nil && e.Type == dispatch.EventOffered && e.WorkerID == c.worker {
			// Answers to offers that ended meanwhile get an error frame.
			_ = conn.WriteJSON(map[string]any{"type": "answer", "id": "a-" + e.AssignmentID,
				"assignment_id": e.AssignmentID, "accept": true})
		}
	}
}

func (c *streamClient) close() {
	c.stop()
	<-c.done
}

// snapshot returns what the client has received so far.
func (c *streamClient) snapshot() (events []wireEvent, live uint64, resets []wireFrame, conns int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.events), c.live, slices.Clone(c.resets), c.conns
}

func (c *streamClient) lastSeq() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.events) == 0 {
		return 0
	}
	return c.events[len(c.events)-1].Seq
}

// readLog reads the whole log, 1 to upto, from node's stream.
func readLog(t *testing.T, node *proc, tok string, upto uint64) []wireEvent {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial("ws://"+node.addr+"/api/v1/stream?after=0",
		http.Header{"Authorization": {"Bearer " + tok}})
	if err != nil {
		t.Fatalf("read the log from %s: %v", node.name, err)
	}
	resp.Body.Close()
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	var out []wireEvent
	for uint64(len(out)) < upto {
		var f wireFrame
		if err := conn.ReadJSON(&f); err != nil {
			t.Fatalf("read the log from %s: %v (after %d events)", node.name, err, len(out))
		}
		switch f.Type {
		case "event":
			out = append(out, *f.Event)
		case "reset":
			t.Fatalf("read the log from %s: reset %+v", node.name, f)
		}
	}
	checkContiguous(t, "the log", out)
	return out
}

// checkContiguous: seqs run 1, 2, 3, ... with no gap and no repeat.
func checkContiguous(t *testing.T, who string, evs []wireEvent) {
	t.Helper()
	for i, e := range evs {
		if e.Seq != uint64(i)+1 {
			t.Fatalf("%s: event %d has seq %d, want %d (gap or duplicate)", who, i, e.Seq, i+1)
		}
	}
}

// sameEvent compares two copies of an event, the data as JSON values.
func sameEvent(a, b wireEvent) bool {
	var da, db bytes.Buffer
	_ = json.Compact(&da, a.Data)
	_ = json.Compact(&db, b.Data)
	return a.Seq == b.Seq && a.Type == b.Type && a.Time.Equal(b.Time) && a.Region == b.Region &&
		a.WorkerID == b.WorkerID && a.IncidentID == b.IncidentID && a.AssignmentID == b.AssignmentID &&
		bytes.Equal(da.Bytes(), db.Bytes())
}

// assignmentOf decodes an assignment event's data; steps after the offer
// carry only what changed, and the event names the assignment.
func assignmentOf(t *testing.T, e wireEvent) dispatch.Assignment {
	t.Helper()
	var a dispatch.Assignment
	if err := json.Unmarshal(e.Data, &a); err != nil {
		t.Fatalf("event %d (%s): %v", e.Seq, e.Type, err)
	}
	a.ID, a.IncidentID, a.WorkerID = e.AssignmentID, e.IncidentID, e.WorkerID
	return a
}

// checkAssignments replays the log: every assignment moves only as the
// state machine allows (so it ends at most once), and no worker ever holds
// two active assignments. It returns each assignment's states in order.
func checkAssignments(t *testing.T, log []wireEvent) map[string][]dispatch.Assignment {
	t.Helper()
	hist := map[string][]dispatch.Assignment{}
	active := map[string]map[string]bool{} // worker -> active assignment ids
	for _, e := range log {
		if !strings.HasPrefix(e.Type, "assignment.") {
			continue
		}
		a := assignmentOf(t, e)
		prev := hist[a.ID]
		switch {
		case len(prev) == 0 && a.State != dispatch.StateOffered && a.State != dispatch.StateAccepted:
			t.Errorf("seq %d: assignment %s starts in %s", e.Seq, a.ID, a.State)
		case len(prev) > 0 && !dispatch.CanMove(prev[len(prev)-1].State, a.State):
			t.Errorf("seq %d: assignment %s moves %s -> %s", e.Seq, a.ID, prev[len(prev)-1].State, a.State)
		}
		hist[a.ID] = append(prev, a)
		if active[a.WorkerID] == nil {
			active[a.WorkerID] = map[string]bool{}
		}
		if a.State.Active() {
			active[a.WorkerID][a.ID] = true
		} else {
			delete(active[a.WorkerID], a.ID)
		}
		if n := len(active[a.WorkerID]); n > 1 {
			t.Errorf("seq %d: worker %s holds %d active assignments %v", e.Seq, a.WorkerID, n, active[a.WorkerID])
		}
	}
	return hist
}

// checkClient holds what c received against the log up to head. Nobody
// was ever told to reload (reset), everyone reconnected once A died. A
// coordinator got every event once, in order. A worker got its own events
// only: all of them up to its last live frame, none twice.
func checkClient(t *testing.T, c *streamClient, log []wireEvent, head uint64) {
	t.Helper()
	evs, live, resets, conns := c.snapshot()
	if len(resets) > 0 {
		t.Errorf("%s: got resets %+v, want none", c.name, resets)
	}
	if conns < 2 {
		t.Errorf("%s: %d connections, want a reconnect after A died", c.name, conns)
	}
	if c.worker == "" {
		checkContiguous(t, c.name, evs)
		for i := range head {
			if !sameEvent(evs[i], log[i]) {
				t.Fatalf("%s: event %d differs from the log:\n got %+v\nwant %+v", c.name, i+1, evs[i], log[i])
			}
		}
		return
	}
	var want, got []wireEvent
	mustHave := 0
	for _, e := range log {
		if e.WorkerID == c.worker {
			want = append(want, e)
			if e.Seq <= live {
				mustHave++
			}
		}
	}
	for _, e := range evs {
		if e.Seq <= head {
			got = append(got, e)
		}
	}
	if len(got) < mustHave || len(got) > len(want) {
		t.Fatalf("%s: got %d events up to seq %d, want %d to %d", c.name, len(got), head, mustHave, len(want))
	}
	for i := range got {
		if !sameEvent(got[i], want[i]) {
			t.Fatalf("%s: event %d is seq %d %s, want seq %d %s", c.name, i, got[i].Seq, got[i].Type, want[i].Seq, want[i].Type)
		}
	}
}
