package diskstore

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
)

func claim(w, a string) dispatch.Claim { return dispatch.Claim{WorkerID: w, AssignmentID: a} }

func TestClaims(t *testing.T) {
	tests := []struct {
		name       string
		setup      []dispatch.Batch
		batch      dispatch.Batch
		wantErr    error
		wantClaims map[string]string
	}{
		{
			name:       "free worker",
			batch:      dispatch.Batch{Claims: []dispatch.Claim{claim("w1", "a1")}},
			wantClaims: map[string]string{"w1": "a1"},
		},
		{
			name:       "held for another assignment",
			setup:      []dispatch.Batch{{Claims: []dispatch.Claim{claim("w1", "a1")}}},
			batch:      dispatch.Batch{Claims: []dispatch.Claim{claim("w1", "a2")}},
			wantErr:    dispatch.ErrClaimed,
			wantClaims: map[string]string{"w1": "a1"},
		},
		{
			name:       "same assignment again",
			setup:      []dispatch.Batch{{Claims: []dispatch.Claim{claim("w1", "a1")}}},
			batch:      dispatch.Batch{Claims: []dispatch.Claim{claim("w1", "a1")}},
			wantClaims: map[string]string{"w1": "a1"},
		},
		{
			name: "released earlier",
			setup: []dispatch.Batch{
				{Claims: []dispatch.Claim{claim("w1", "a1")}},
				{Releases: []string{"w1"}},
			},
			batch:      dispatch.Batch{Claims: []dispatch.Claim{claim("w1", "a2")}},
			wantClaims: map[string]string{"w1": "a2"},
		},
		{
			name:       "release applies before claim in one batch",
			setup:      []dispatch.Batch{{Claims: []dispatch.Claim{claim("w1", "a1")}}},
			batch:      dispatch.Batch{Releases: []string{"w1"}, Claims: []dispatch.Claim{claim("w1", "a2")}},
			wantClaims: map[string]string{"w1": "a2"},
		},
		{
			name:       "release of a free worker",
			batch:      dispatch.Batch{Releases: []string{"w9"}},
			wantClaims: map[string]string{},
		},
		{
			name:       "two assignments for one worker in one batch",
			batch:      dispatch.Batch{Claims: []dispatch.Claim{claim("w1", "a1"), claim("w1", "a2")}},
			wantErr:    dispatch.ErrClaimed,
			wantClaims: map[string]string{},
		},
		{
			name:       "same claim twice in one batch",
			batch:      dispatch.Batch{Claims: []dispatch.Claim{claim("w1", "a1"), claim("w1", "a1")}},
			wantClaims: map[string]string{"w1": "a1"},
		},
		{
			name:  "one conflict refuses the whole batch",
			setup: []dispatch.Batch{{Claims: []dispatch.Claim{claim("w1", "a1")}}},
			batch: dispatch.Batch{
				Releases: []string{"w3"},
				Claims:   []dispatch.Claim{claim("w2", "a2"), claim("w1", "a3")},
			},
			wantErr:    dispatch.ErrClaimed,
			wantClaims: map[string]string{"w1": "a1"},
		},
		{
			name: "refused batch keeps the release undone",
			setup: []dispatch.Batch{
				{Claims: []dispatch.Claim{claim("w1", "a1"), claim("w2", "a2")}},
			},
			batch: dispatch.Batch{
				Releases: []string{"w2"},
				Claims:   []dispatch.Claim{claim("w1", "a3")},
			},
			wantErr:    dispatch.ErrClaimed,
			wantClaims: map[string]string{"w1": "a1", "w2": "a2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openT(t, dir, Options{})
			for _, b := range tt.setup {
				mustCommit(t, s, b)
			}
			// Every batch also carries an event and a record, to see that
			// a refused batch writes neither.
			b := tt.batch
			b.Events = []dispatch.Event{ev("assignment.offered")}
			b.Records = []dispatch.Record{{Kind: dispatch.KindAssignment, ID: "probe", Value: json.RawMessage(`{}`)}}
			c, err := s.Commit(context.Background(), b)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Commit: got err %v, want %v", err, tt.wantErr)
			}
			wantSeq := uint64(1)
			if err == nil {
				if err := c.Wait(context.Background()); err != nil {
					t.Fatalf("Wait: %v", err)
				}
				wantSeq = 2
			}
			if got := s.Claims(); !maps.Equal(got, tt.wantClaims) {
				t.Errorf("claims: got %v, want %v", got, tt.wantClaims)
			}
			next := mustCommit(t, s, dispatch.Batch{Events: []dispatch.Event{ev("probe")}})
			if next[0].Seq != wantSeq {
				t.Errorf("next seq: got %d, want %d", next[0].Seq, wantSeq)
			}
			recs, _ := loadAll(t, s)
			if _, ok := recs["assignment/probe"]; ok != (err == nil) {
				t.Errorf("probe record stored: got %v, want %v", ok, err == nil)
			}

			// The claims on disk are the same after a restart.
			s.Close()
			s2 := openT(t, dir, Options{})
			if got := s2.Claims(); !maps.Equal(got, tt.wantClaims) {
				t.Errorf("claims after reopen: got %v, want %v", got, tt.wantClaims)
			}
		})
	}
}

func TestRecordsAndReopen(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{})
	rec := func(k dispatch.RecordKind, id, v string) dispatch.Record {
		r := dispatch.Record{Kind: k, ID: id}
		if v != "" {
			r.Value = json.RawMessage(v)
		}
		return r
	}
	steps := []struct {
		name    string
		records []dispatch.Record
		want    map[string]string
	}{
		{"insert", []dispatch.Record{rec(dispatch.KindWorker, "w1", `{"n":1}`), rec(dispatch.KindIncident, "i1", `{"s":"open"}`)},
			map[string]string{"worker/w1": `{"n":1}`, "incident/i1": `{"s":"open"}`}},
		{"overwrite", []dispatch.Record{rec(dispatch.KindWorker, "w1", `{"n":2}`)},
			map[string]string{"worker/w1": `{"n":2}`, "incident/i1": `{"s":"open"}`}},
		{"delete", []dispatch.Record{rec(dispatch.KindIncident, "i1", "")},
			map[string]string{"worker/w1": `{"n":2}`}},
		{"delete missing and of an unseen kind", []dispatch.Record{rec(dispatch.KindIncident, "nope", ""), rec("other", "x", "")},
			map[string]string{"worker/w1": `{"n":2}`}},
		{"later record in a batch wins", []dispatch.Record{rec(dispatch.KindAssignment, "a1", `1`), rec(dispatch.KindAssignment, "a1", `2`)},
			map[string]string{"worker/w1": `{"n":2}`, "assignment/a1": `2`}},
	}
	for _, st := range steps {
		mustCommit(t, s, dispatch.Batch{Records: st.records, Events: []dispatch.Event{ev("x")}})
		if got, _ := loadAll(t, s); !maps.Equal(got, st.want) {
			t.Fatalf("%s: got %v, want %v", st.name, got, st.want)
		}
	}
	s.Close()
	s = openT(t, dir, Options{})
	got, last := loadAll(t, s)
	if want := steps[len(steps)-1].want; !maps.Equal(got, want) {
		t.Errorf("after reopen: got %v, want %v", got, want)
	}
	if last != uint64(len(steps)) {
		t.Errorf("last seq: got %d, want %d", last, len(steps))
	}
}

func TestSeqContinuesAfterReopen(t *testing.T) {
	dir := t.TempDir()
	for round := range 3 {
		s := openT(t, dir, Options{})
		evs := mustCommit(t, s, dispatch.Batch{Events: events(3)})
		checkContiguous(t, evs, uint64(3*round+1))
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	s := openT(t, dir, Options{})
	all := allEvents(t, s, 0)
	if len(all) != 9 {
		t.Fatalf("got %d events, want 9", len(all))
	}
	checkContiguous(t, all, 1)
}

func TestEventContent(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	s := openT(t, dir, Options{Now: clk.Now})
	given := time.Date(2023, 8, 1, 10, 0, 0, 123, time.FixedZone("CST", 8*3600))
	in := []dispatch.Event{
		{Type: "incident.created", Region: "HE", IncidentID: "i1", Data: json.RawMessage(`{ "severity" : "I" }`)},
		{Type: "assignment.offered", WorkerID: "w1", AssignmentID: "a1", Time: given},
	}
	out := mustCommit(t, s, dispatch.Batch{Events: in})
	if !out[0].Time.Equal(clk.Now()) || !out[1].Time.Equal(given) {
		t.Errorf("times: got %v, %v; want %v, %v", out[0].Time, out[1].Time, clk.Now(), given)
	}
	check := func(label string, got []dispatch.Event) {
		t.Helper()
		if len(got) != 2 {
			t.Fatalf("%s: got %d events, want 2", label, len(got))
		}
		for i := range got {
			g, w := got[i], out[i]
			if g.Seq != w.Seq || !g.Time.Equal(w.Time) || g.Type != w.Type || g.Region != w.Region ||
				g.WorkerID != w.WorkerID || g.IncidentID != w.IncidentID || g.AssignmentID != w.AssignmentID ||
				string(g.Data) != string(w.Data) {
				t.Errorf("%s: event %d: got %+v, want %+v", label, i, g, w)
			}
		}
		if string(got[0].Data) != string(in[0].Data) {
			t.Errorf("%s: data: got %s, want %s", label, got[0].Data, in[0].Data)
		}
	}
	check("memory", allEvents(t, s, 0))
	s.dmu.Lock()
	s.tail.reset() // force the disk path
	s.dmu.Unlock()
	check("disk", allEvents(t, s, 0))
	s.Close()
	check("reopened", allEvents(t, openT(t, dir, Options{}), 0))
}

func TestCommitValidation(t *testing.T) {
	tests := []struct {
		name  string
		batch dispatch.Batch
	}{
		{"event without type", dispatch.Batch{Events: []dispatch.Event{{}}}},
		{"event data not JSON", dispatch.Batch{Events: []dispatch.Event{{Type: "x", Data: json.RawMessage(`{`)}}}},
		{"event seq not the next", dispatch.Batch{Events: []dispatch.Event{{Type: "x", Seq: 7}}}},
		{"event time out of range", dispatch.Batch{Events: []dispatch.Event{{Type: "x", Time: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}}}},
		{"record without id", dispatch.Batch{Records: []dispatch.Record{{Kind: dispatch.KindWorker}}}},
		{"record without kind", dispatch.Batch{Records: []dispatch.Record{{ID: "w1"}}}},
		{"record value not JSON", dispatch.Batch{Records: []dispatch.Record{{Kind: dispatch.KindWorker, ID: "w1", Value: json.RawMessage(`nope`)}}}},
		{"claim without assignment", dispatch.Batch{Claims: []dispatch.Claim{{WorkerID: "w1"}}}},
		{"release without worker", dispatch.Batch{Releases: []string{""}}},
	}
	s := openT(t, t.TempDir(), Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.batch
			b.Events = append(b.Events, ev("good"))
			b.Claims = append(b.Claims, claim("wv", "av"))
			if _, err := s.Commit(context.Background(), b); err == nil || !strings.HasPrefix(err.Error(), "commit: ") {
				t.Fatalf("Commit: got err %v, want a commit error", err)
			}
		})
	}
	if got := s.Claims(); len(got) != 0 {
		t.Errorf("claims after refused batches: got %v, want none", got)
	}
	if evs := mustCommit(t, s, dispatch.Batch{Events: []dispatch.Event{ev("x"), {Type: "y", Seq: 2}}}); evs[0].Seq != 1 {
		t.Errorf("first accepted seq: got %d, want 1", evs[0].Seq)
	}
}

func TestEmptyBatch(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	c, err := s.Commit(context.Background(), dispatch.Batch{})
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if len(c.Events) != 0 || c.Wait(context.Background()) != nil {
		t.Errorf("got %d events, want 0 and a nil Wait", len(c.Events))
	}
}

func TestEventsAfter(t *testing.T) {
	type want struct {
		from, n uint64 // first seq and count
		err     error
	}
	tests := []struct {
		name  string
		opts  Options
		after uint64
		limit int
		want  want
	}{
		{"from the start", Options{}, 0, 3, want{1, 3, nil}},
		{"limit past the end", Options{}, 7, 10, want{8, 3, nil}},
		{"no limit", Options{}, 0, 0, want{1, 10, nil}},
		{"at the end", Options{}, 10, 5, want{0, 0, nil}},
		{"beyond the end", Options{}, 42, 5, want{0, 0, nil}},
		{"trimmed", Options{MaxEvents: 5}, 0, 5, want{0, 0, dispatch.ErrLogTruncated}},
		{"just trimmed", Options{MaxEvents: 5}, 4, 5, want{0, 0, dispatch.ErrLogTruncated}},
		{"first retained", Options{MaxEvents: 5}, 5, 2, want{6, 2, nil}},
		{"trimmed but at the end", Options{MaxEvents: 5}, 10, 5, want{0, 0, nil}},
	}
	for _, tt := range tests {
		for _, path := range []string{"memory", "disk"} {
			t.Run(tt.name+"/"+path, func(t *testing.T) {
				s := openT(t, t.TempDir(), tt.opts)
				for range 10 {
					mustCommit(t, s, dispatch.Batch{Events: events(1)})
				}
				if err := s.trimNow(context.Background()); err != nil {
					t.Fatalf("trim: %v", err)
				}
				if path == "disk" {
					s.dmu.Lock()
					s.tail.reset()
					s.dmu.Unlock()
				}
				got, err := s.EventsAfter(context.Background(), tt.after, tt.limit)
				if !errors.Is(err, tt.want.err) {
					t.Fatalf("got err %v, want %v", err, tt.want.err)
				}
				if uint64(len(got)) != tt.want.n {
					t.Fatalf("got %d events, want %d", len(got), tt.want.n)
				}
				checkContiguous(t, got, tt.want.from)
			})
		}
	}
}

func TestFollow(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	mustCommit(t, s, dispatch.Batch{Events: events(5)})

	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan []dispatch.Event, 100)
	done := make(chan error, 1)
	go func() { done <- s.Follow(ctx, 2, func(evs []dispatch.Event) { got <- evs }) }()

	var seen []dispatch.Event
	waitFor := func(n int) {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for len(seen) < n {
			select {
			case evs := <-got:
				seen = append(seen, evs...)
			case <-deadline:
				t.Fatalf("got %d events, want %d", len(seen), n)
			}
		}
	}
	waitFor(3) // catch-up: 3, 4, 5
	for range 3 {
		mustCommit(t, s, dispatch.Batch{Events: events(1)}) // live: 6, 7, 8
	}
	waitFor(6)
	checkContiguous(t, seen, 3)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Follow after cancel: got %v, want context.Canceled", err)
	}
	if len(seen) != 6 {
		t.Errorf("got %d events, want 6", len(seen))
	}
}

func TestFollowEnds(t *testing.T) {
	s := openT(t, t.TempDir(), Options{MaxEvents: 2})
	mustCommit(t, s, dispatch.Batch{Events: events(5)})
	if err := s.trimNow(context.Background()); err != nil {
		t.Fatalf("trim: %v", err)
	}
	err := s.Follow(context.Background(), 1, func([]dispatch.Event) {})
	if !errors.Is(err, dispatch.ErrLogTruncated) {
		t.Errorf("Follow behind retention: got %v, want ErrLogTruncated", err)
	}

	done := make(chan error, 1)
	go func() { done <- s.Follow(context.Background(), 5, func([]dispatch.Event) {}) }()
	time.Sleep(10 * time.Millisecond) // let it wait for news
	s.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Errorf("Follow at Close: got %v, want ErrClosed", err)
	}
}

func TestRetention(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	opts := Options{Retention: time.Hour, Now: clk.Now}
	s := openT(t, dir, opts)
	mustCommit(t, s, dispatch.Batch{Events: events(3)}) // 1..3 at t0
	clk.Advance(30 * time.Minute)
	mustCommit(t, s, dispatch.Batch{Events: events(2)}) // 4..5 at t0+30m
	clk.Advance(45 * time.Minute)
	if err := s.trimNow(context.Background()); err != nil {
		t.Fatalf("trim: %v", err)
	}
	if _, err := s.EventsAfter(context.Background(), 0, 10); !errors.Is(err, dispatch.ErrLogTruncated) {
		t.Errorf("after 0: got %v, want ErrLogTruncated", err)
	}
	checkContiguous(t, allEvents(t, s, 3), 4)

	s.Close()
	s = openT(t, dir, opts)
	if _, err := s.EventsAfter(context.Background(), 2, 10); !errors.Is(err, dispatch.ErrLogTruncated) {
		t.Errorf("after reopen, after 2: got %v, want ErrLogTruncated", err)
	}
	if got := allEvents(t, s, 3); len(got) != 2 {
		t.Errorf("after reopen: got %d events, want 2", len(got))
	}

	// Everything expires; the sequence still goes on.
	clk.Advance(3 * time.Hour)
	if err := s.trimNow(context.Background()); err != nil {
		t.Fatalf("trim: %v", err)
	}
	if _, err := s.EventsAfter(context.Background(), 4, 10); !errors.Is(err, dispatch.ErrLogTruncated) {
		t.Errorf("all trimmed, after 4: got %v, want ErrLogTruncated", err)
	}
	if got := allEvents(t, s, 5); len(got) != 0 {
		t.Errorf("all trimmed, after 5: got %d events, want 0", len(got))
	}
	s.Close()
	s = openT(t, dir, opts)
	if evs := mustCommit(t, s, dispatch.Batch{Events: events(1)}); evs[0].Seq != 6 {
		t.Errorf("seq after a fully trimmed log: got %d, want 6", evs[0].Seq)
	}
	checkContiguous(t, allEvents(t, s, 5), 6)
}

func TestMaxEventsTrimsInBackground(t *testing.T) {
	s := openT(t, t.TempDir(), Options{MaxEvents: 20})
	for range 200 {
		mustCommit(t, s, dispatch.Batch{Events: events(1)})
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.dmu.RLock()
		retained := s.durable - s.first + 1
		s.dmu.RUnlock()
		if retained <= 20+2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("retained %d events, want about 20", retained)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWriteFailureBreaksStore(t *testing.T) {
	diskFull := errors.New("no space left on device")
	s := openT(t, t.TempDir(), Options{})
	mustCommit(t, s, dispatch.Batch{Events: events(1)})
	s.failWrites = func() error { return diskFull }
	c, err := s.Commit(context.Background(), dispatch.Batch{Events: events(1)})
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if err := c.Wait(context.Background()); !errors.Is(err, diskFull) {
		t.Fatalf("Wait: got %v, want the write error", err)
	}
	if _, err := s.Commit(context.Background(), dispatch.Batch{Events: events(1)}); !errors.Is(err, diskFull) {
		t.Errorf("Commit after failure: got %v, want the write error", err)
	}
	// The failed event never became visible.
	if got := allEvents(t, s, 0); len(got) != 1 {
		t.Errorf("got %d events, want 1", len(got))
	}
	if err := s.Close(); !errors.Is(err, diskFull) {
		t.Errorf("Close: got %v, want the write error", err)
	}
}

func TestWaitContext(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	c, err := s.Commit(context.Background(), dispatch.Batch{Events: events(1)})
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// Either durable already or cancelled: never anything else.
	if err := c.Wait(ctx); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("Wait: got %v, want nil or context.Canceled", err)
	}
	if err := c.Wait(context.Background()); err != nil {
		t.Errorf("Wait: %v", err)
	}
}

func TestCloseTwiceAndGoroutines(t *testing.T) {
	before := stableGoroutines(-1)
	s, err := Open(t.TempDir(), Options{Retention: time.Hour})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	c, err := s.Commit(context.Background(), dispatch.Batch{Events: events(3)})
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// Close flushed what was queued.
	if err := c.Wait(context.Background()); err != nil {
		t.Errorf("Wait after Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.Commit(context.Background(), dispatch.Batch{Events: events(1)}); !errors.Is(err, ErrClosed) {
		t.Errorf("Commit after Close: got %v, want ErrClosed", err)
	}
	if _, err := s.EventsAfter(context.Background(), 0, 1); !errors.Is(err, ErrClosed) {
		t.Errorf("EventsAfter after Close: got %v, want ErrClosed", err)
	}
	if _, err := s.Load(context.Background(), func(dispatch.Record) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("Load after Close: got %v, want ErrClosed", err)
	}
	if after := stableGoroutines(before); after > before {
		t.Errorf("goroutines: got %d after Close, want %d", after, before)
	}
}
