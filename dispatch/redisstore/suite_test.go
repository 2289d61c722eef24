package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/redis/go-redis/v9"
)

// The core suite: the embedded store's semantics, run against one server
// (TestStandalone) and against a three-master Cluster (TestCluster).

func TestStandalone(t *testing.T) {
	e, _ := standalone(t)
	runSuite(t, e)
}

func TestCluster(t *testing.T) {
	e := &env{rdb: newClient(t, startCluster(t)...)}
	runSuite(t, e)

	// The tests' prefixes hash to different slots: the suite ran on more
	// than one shard, each test's state on exactly one.
	cc, ok := e.rdb.(*redis.ClusterClient)
	if !ok {
		t.Fatalf("client: got %T, want *redis.ClusterClient", e.rdb)
	}
	var mu sync.Mutex
	used := 0
	err := cc.ForEachMaster(context.Background(), func(ctx context.Context, c *redis.Client) error {
		n, err := c.DBSize(ctx).Result()
		if n > 0 {
			mu.Lock()
			used++
			mu.Unlock()
		}
		return err
	})
	if err != nil {
		t.Fatalf("DBSIZE: %v", err)
	}
	if used < 2 {
		t.Errorf("masters holding state: got %d, want at least 2", used)
	}
}

func runSuite(t *testing.T, e *env) {
	for _, c := range []struct {
		name string
		fn   func(*testing.T, *env)
	}{
		{"Claims", testClaims},
		{"RecordsAndReopen", testRecordsAndReopen},
		{"LoadPages", testLoadPages},
		{"SeqContinuesAfterReopen", testSeqContinuesAfterReopen},
		{"EventContent", testEventContent},
		{"CommitValidation", testCommitValidation},
		{"EmptyBatch", testEmptyBatch},
		{"EventsAfter", testEventsAfter},
		{"Follow", testFollow},
		{"FollowEnds", testFollowEnds},
		{"Retention", testRetention},
		{"MaxLen", testMaxLen},
		{"RandomOpsAgainstModel", testRandomOpsAgainstModel},
		{"CloseTwice", testCloseTwice},
	} {
		t.Run(c.name, func(t *testing.T) { c.fn(t, e) })
	}
}

func testClaims(t *testing.T, e *env) {
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
			opts := e.fresh(Options{})
			s := e.open(t, opts)
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
			if got := claimsOf(t, s); !maps.Equal(got, tt.wantClaims) {
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

			// Another Store on the same prefix (another node) sees the same.
			s2 := e.open(t, opts)
			if got := claimsOf(t, s2); !maps.Equal(got, tt.wantClaims) {
				t.Errorf("claims from a second store: got %v, want %v", got, tt.wantClaims)
			}
		})
	}
}

func testRecordsAndReopen(t *testing.T, e *env) {
	opts := e.fresh(Options{})
	s := e.open(t, opts)
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
		{"empty value deletes like nil", []dispatch.Record{{Kind: dispatch.KindAssignment, ID: "a1", Value: json.RawMessage{}}},
			map[string]string{"worker/w1": `{"n":2}`}},
	}
	for _, st := range steps {
		mustCommit(t, s, dispatch.Batch{Records: st.records, Events: []dispatch.Event{ev("x")}})
		if got, _ := loadAll(t, s); !maps.Equal(got, st.want) {
			t.Fatalf("%s: got %v, want %v", st.name, got, st.want)
		}
	}
	s.Close()
	s = e.open(t, opts)
	got, last := loadAll(t, s)
	if want := steps[len(steps)-1].want; !maps.Equal(got, want) {
		t.Errorf("after reopen: got %v, want %v", got, want)
	}
	if last != uint64(len(steps)) {
		t.Errorf("last seq: got %d, want %d", last, len(steps))
	}
}

// testLoadPages loads a kind large enough for several HSCAN pages and the
// hash table encoding, where HSCAN may repeat a field.
func testLoadPages(t *testing.T, e *env) {
	s := e.open(t, e.fresh(Options{}))
	const n = 2500
	want := map[string]string{}
	for i := 0; i < n; i += 500 {
		var b dispatch.Batch
		for j := i; j < i+500; j++ {
			id := fmt.Sprintf("w%d", j)
			v := fmt.Sprintf(`{"lat":39.9,"lng":116.4,"i":%d}`, j)
			b.Records = append(b.Records, dispatch.Record{Kind: dispatch.KindPosition, ID: id, Value: json.RawMessage(v)})
			want["position/"+id] = v
		}
		mustCommit(t, s, b)
	}
	got, last := loadAll(t, s)
	if !maps.Equal(got, want) {
		t.Errorf("got %d records, want %d (or different values)", len(got), len(want))
	}
	if last != 0 {
		t.Errorf("last seq: got %d, want 0", last)
	}
	stop := errors.New("stop")
	calls := 0
	_, err := s.Load(context.Background(), func(dispatch.Record) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("Load with a failing fn: got %v after %d calls, want stop after 1", err, calls)
	}
}

func testSeqContinuesAfterReopen(t *testing.T, e *env) {
	opts := e.fresh(Options{})
	for round := range 3 {
		s := e.open(t, opts)
		evs := mustCommit(t, s, dispatch.Batch{Events: events(3)})
		checkContiguous(t, evs, uint64(3*round+1))
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	s := e.open(t, opts)
	all := allEvents(t, s, 0)
	if len(all) != 9 {
		t.Fatalf("got %d events, want 9", len(all))
	}
	checkContiguous(t, all, 1)
}

func testEventContent(t *testing.T, e *env) {
	clk := newClock()
	opts := e.fresh(Options{Now: clk.Now})
	s := e.open(t, opts)
	given := time.Date(2023, 8, 1, 10, 0, 0, 123, time.FixedZone("CST", 8*3600))
	in := []dispatch.Event{
		{Type: "incident.created", Region: "HE", IncidentID: "i1", Data: json.RawMessage(`{ "severity" : "I" }`)},
		{Type: "assignment.offered", WorkerID: "w1", AssignmentID: "a1", Time: given},
		{Type: "worker.note", WorkerID: "w1", Data: json.RawMessage(`"héllo\u0000 \"q\""`)},
	}
	out := mustCommit(t, s, dispatch.Batch{Events: in})
	if !out[0].Time.Equal(clk.Now()) || !out[1].Time.Equal(given) {
		t.Errorf("times: got %v, %v; want %v, %v", out[0].Time, out[1].Time, clk.Now(), given)
	}
	check := func(label string, got []dispatch.Event) {
		t.Helper()
		if len(got) != len(in) {
			t.Fatalf("%s: got %d events, want %d", label, len(got), len(in))
		}
		for i := range got {
			g, w := got[i], out[i]
			if g.Seq != w.Seq || !g.Time.Equal(w.Time) || g.Type != w.Type || g.Region != w.Region ||
				g.WorkerID != w.WorkerID || g.IncidentID != w.IncidentID || g.AssignmentID != w.AssignmentID ||
				string(g.Data) != string(w.Data) {
				t.Errorf("%s: event %d: got %+v, want %+v", label, i, g, w)
			}
			if string(g.Data) != string(in[i].Data) {
				t.Errorf("%s: data %d: got %s, want %s", label, i, g.Data, in[i].Data)
			}
		}
	}
	check("read", allEvents(t, s, 0))
	s.Close()
	check("reopened", allEvents(t, e.open(t, opts), 0))
}

func testCommitValidation(t *testing.T, e *env) {
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
	s := e.open(t, e.fresh(Options{}))
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
	if got := claimsOf(t, s); len(got) != 0 {
		t.Errorf("claims after refused batches: got %v, want none", got)
	}
	if evs := mustCommit(t, s, dispatch.Batch{Events: []dispatch.Event{ev("x"), {Type: "y", Seq: 2}}}); evs[0].Seq != 1 {
		t.Errorf("first accepted seq: got %d, want 1", evs[0].Seq)
	}
}

func testEmptyBatch(t *testing.T, e *env) {
	s := e.open(t, e.fresh(Options{}))
	c, err := s.Commit(context.Background(), dispatch.Batch{})
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if len(c.Events) != 0 || c.Wait(context.Background()) != nil {
		t.Errorf("got %d events, want 0 and a nil Wait", len(c.Events))
	}
	if evs := mustCommit(t, s, dispatch.Batch{Events: events(1)}); evs[0].Seq != 1 {
		t.Errorf("seq after an empty batch: got %d, want 1", evs[0].Seq)
	}
}

// commitMinutes commits n single events, the clock moving a minute after
// each: event i (seq i+1) is n-i minutes old afterwards.
func commitMinutes(t testing.TB, s *Store, clk *clock, n int) {
	t.Helper()
	for range n {
		mustCommit(t, s, dispatch.Batch{Events: events(1)})
		clk.Advance(time.Minute)
	}
}

func testEventsAfter(t *testing.T, e *env) {
	type want struct {
		from, n uint64 // first seq and count
		err     error
	}
	tests := []struct {
		name  string
		trim  bool // trim seqs 1..5
		after uint64
		limit int
		want  want
	}{
		{"from the start", false, 0, 3, want{1, 3, nil}},
		{"limit past the end", false, 7, 10, want{8, 3, nil}},
		{"no limit", false, 0, 0, want{1, 10, nil}},
		{"at the end", false, 10, 5, want{0, 0, nil}},
		{"beyond the end", false, 42, 5, want{0, 0, nil}},
		{"trimmed", true, 0, 5, want{0, 0, dispatch.ErrLogTruncated}},
		{"just trimmed", true, 4, 5, want{0, 0, dispatch.ErrLogTruncated}},
		{"first retained", true, 5, 2, want{6, 2, nil}},
		{"trimmed but at the end", true, 10, 5, want{0, 0, nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			s := e.open(t, e.fresh(Options{Retention: 5*time.Minute + time.Second, Now: clk.Now}))
			commitMinutes(t, s, clk, 10)
			if tt.trim {
				if n, err := s.trimNow(context.Background()); err != nil || n != 5 {
					t.Fatalf("trim: got %d, %v; want 5 trimmed", n, err)
				}
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

func testFollow(t *testing.T, e *env) {
	s := e.open(t, e.fresh(Options{}))
	mustCommit(t, s, dispatch.Batch{Events: events(5)})
	f := follow(t, s, 2)
	f.waitFor(t, 3, 5*time.Second) // catch-up: 3, 4, 5
	for range 3 {
		mustCommit(t, s, dispatch.Batch{Events: events(1)}) // live: 6, 7, 8
	}
	mustCommit(t, s, dispatch.Batch{Events: events(2500)}) // live, more than one read: 9..2508
	seen := f.waitFor(t, 2506, 5*time.Second)
	checkContiguous(t, seen, 3)
	if err := f.stop(t); !errors.Is(err, context.Canceled) {
		t.Errorf("Follow after cancel: got %v, want context.Canceled", err)
	}
	if got := len(f.events()); got != 2506 {
		t.Errorf("got %d events, want 2506", got)
	}
}

func testFollowEnds(t *testing.T, e *env) {
	clk := newClock()
	s := e.open(t, e.fresh(Options{Retention: 2*time.Minute + time.Second, Now: clk.Now}))
	commitMinutes(t, s, clk, 5)
	if _, err := s.trimNow(context.Background()); err != nil {
		t.Fatalf("trim: %v", err)
	}
	err := s.Follow(context.Background(), 1, func([]dispatch.Event) {})
	if !errors.Is(err, dispatch.ErrLogTruncated) {
		t.Errorf("Follow behind retention: got %v, want ErrLogTruncated", err)
	}

	// Trimmed past a follower while it waits: the next entry is not the
	// next seq, and it says so instead of skipping. Appending 7 and 8 and
	// trimming 7 in one transaction makes the race certain.
	f := follow(t, s, 5)
	mustCommit(t, s, dispatch.Batch{Events: events(1)}) // 6
	f.waitFor(t, 1, 5*time.Second)
	ctx := context.Background()
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for seq := uint64(7); seq <= 8; seq++ {
			p.XAdd(ctx, &redis.XAddArgs{Stream: s.keys.events, ID: entryID(seq),
				Values: []string{"t", "0", "y", "x", "r", "", "w", "", "i", "", "a", "", "d", ""}})
		}
		p.Set(ctx, s.keys.seq, 8, 0)
		p.XTrimMinID(ctx, s.keys.events, entryID(8))
		return nil
	})
	if err != nil {
		t.Fatalf("append and trim: %v", err)
	}
	select {
	case err := <-f.done:
		if !errors.Is(err, dispatch.ErrLogTruncated) {
			t.Errorf("Follow trimmed past: got %v, want ErrLogTruncated", err)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("Follow trimmed past did not end; saw %d events", len(f.events()))
	}
	if got := f.events(); len(got) != 1 {
		t.Errorf("Follow trimmed past: delivered %d events, want 1", len(got))
	}

	done := make(chan error, 1)
	go func() { done <- s.Follow(context.Background(), 8, func([]dispatch.Event) {}) }()
	time.Sleep(50 * time.Millisecond) // let it wait for news
	s.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Follow at Close: got %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Follow did not return after Close")
	}
}

func testRetention(t *testing.T, e *env) {
	clk := newClock()
	opts := e.fresh(Options{Retention: time.Hour, Now: clk.Now})
	s := e.open(t, opts)
	mustCommit(t, s, dispatch.Batch{Events: events(3)}) // 1..3 at t0
	clk.Advance(30 * time.Minute)
	mustCommit(t, s, dispatch.Batch{Events: events(2)}) // 4..5 at t0+30m
	clk.Advance(45 * time.Minute)
	if _, err := s.trimNow(context.Background()); err != nil {
		t.Fatalf("trim: %v", err)
	}
	if _, err := s.EventsAfter(context.Background(), 0, 10); !errors.Is(err, dispatch.ErrLogTruncated) {
		t.Errorf("after 0: got %v, want ErrLogTruncated", err)
	}
	checkContiguous(t, allEvents(t, s, 3), 4)

	s.Close()
	s = e.open(t, opts)
	if _, err := s.EventsAfter(context.Background(), 2, 10); !errors.Is(err, dispatch.ErrLogTruncated) {
		t.Errorf("after reopen, after 2: got %v, want ErrLogTruncated", err)
	}
	if got := allEvents(t, s, 3); len(got) != 2 {
		t.Errorf("after reopen: got %d events, want 2", len(got))
	}

	// Everything expires; the sequence still goes on.
	clk.Advance(3 * time.Hour)
	if _, err := s.trimNow(context.Background()); err != nil {
		t.Fatalf("trim: %v", err)
	}
	if _, err := s.EventsAfter(context.Background(), 4, 10); !errors.Is(err, dispatch.ErrLogTruncated) {
		t.Errorf("all trimmed, after 4: got %v, want ErrLogTruncated", err)
	}
	if got := allEvents(t, s, 5); len(got) != 0 {
		t.Errorf("all trimmed, after 5: got %d events, want 0", len(got))
	}
	s.Close()
	s = e.open(t, opts)
	if evs := mustCommit(t, s, dispatch.Batch{Events: events(1)}); evs[0].Seq != 6 {
		t.Errorf("seq after a fully trimmed log: got %d, want 6", evs[0].Seq)
	}
	checkContiguous(t, allEvents(t, s, 5), 6)

	// Long runs of expired and live events: the binary search finds the
	// boundary.
	for range 3 {
		mustCommit(t, s, dispatch.Batch{Events: events(1000)})
		clk.Advance(10 * time.Minute)
	}
	clk.Advance(45 * time.Minute) // batches are 75, 65, 55 min old
	n, err := s.trimNow(context.Background())
	if err != nil || n != 2001 {
		t.Errorf("trim: got %d, %v; want 2001 trimmed", n, err)
	}
	if _, err := s.EventsAfter(context.Background(), 2006, 1); err != nil {
		t.Errorf("after 2006: %v", err)
	}
	if _, err := s.EventsAfter(context.Background(), 2005, 1); !errors.Is(err, dispatch.ErrLogTruncated) {
		t.Errorf("after 2005: got %v, want ErrLogTruncated", err)
	}
}

func testMaxLen(t *testing.T, e *env) {
	s := e.open(t, e.fresh(Options{MaxLen: 100}))
	for range 20 {
		mustCommit(t, s, dispatch.Batch{Events: events(50)})
	}
	n, err := s.rdb.XLen(context.Background(), s.keys.events).Result()
	if err != nil {
		t.Fatalf("XLEN: %v", err)
	}
	// Approximate trimming removes whole stream nodes (100 entries by
	// default), so up to one node more may stay.
	if n < 100 || n > 250 {
		t.Errorf("stream length: got %d, want about 100", n)
	}
	if _, err := s.EventsAfter(context.Background(), 0, 10); !errors.Is(err, dispatch.ErrLogTruncated) {
		t.Errorf("after 0: got %v, want ErrLogTruncated", err)
	}
	if got := allEvents(t, s, 1000-100); len(got) != 100 {
		t.Errorf("last 100: got %d events", len(got))
	}
}

// testRandomOpsAgainstModel runs random batches of claims, releases and
// records against a plain in-memory model of the rules, reopening the store
// now and then, and compares every outcome and the final state.
func testRandomOpsAgainstModel(t *testing.T, e *env) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 42))
			opts := e.fresh(Options{})
			s, err := Open(context.Background(), opts)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer func() { s.Close() }()

			claims := map[string]string{}
			records := map[string]string{}
			var seq uint64
			pick := func(prefix string, n int) string { return fmt.Sprintf("%s%d", prefix, rng.IntN(n)) }

			for op := range 300 {
				var b dispatch.Batch
				for range rng.IntN(3) {
					b.Releases = append(b.Releases, pick("w", 6))
				}
				for range rng.IntN(3) {
					b.Claims = append(b.Claims, claim(pick("w", 6), pick("a", 4)))
				}
				for range rng.IntN(3) {
					r := dispatch.Record{Kind: dispatch.KindAssignment, ID: pick("r", 8)}
					if rng.IntN(3) > 0 {
						r.Value = json.RawMessage(fmt.Sprint(op))
					}
					b.Records = append(b.Records, r)
				}
				b.Events = events(rng.IntN(3))

				// The model: releases first, then claims; all or nothing.
				next := maps.Clone(claims)
				for _, w := range b.Releases {
					delete(next, w)
				}
				ok := true
				for _, c := range b.Claims {
					if held, taken := next[c.WorkerID]; taken && held != c.AssignmentID {
						ok = false
					}
					next[c.WorkerID] = c.AssignmentID
				}

				c, err := s.Commit(context.Background(), b)
				if ok != (err == nil) {
					t.Fatalf("op %d: Commit err %v, model says ok=%v", op, err, ok)
				}
				if err != nil {
					if !errors.Is(err, dispatch.ErrClaimed) {
						t.Fatalf("op %d: got %v, want ErrClaimed", op, err)
					}
					continue
				}
				claims = next
				for _, r := range b.Records {
					if r.Value == nil {
						delete(records, "assignment/"+r.ID)
					} else {
						records["assignment/"+r.ID] = string(r.Value)
					}
				}
				for _, e := range c.Events {
					if seq++; e.Seq != seq {
						t.Fatalf("op %d: got seq %d, want %d", op, e.Seq, seq)
					}
				}
				if rng.IntN(40) == 0 {
					if err := s.Close(); err != nil {
						t.Fatalf("op %d: Close: %v", op, err)
					}
					if s, err = Open(context.Background(), opts); err != nil {
						t.Fatalf("op %d: Open: %v", op, err)
					}
				}
			}
			if got := claimsOf(t, s); !maps.Equal(got, claims) {
				t.Errorf("claims: got %v, want %v", got, claims)
			}
			got, last := loadAll(t, s)
			if !maps.Equal(got, records) {
				t.Errorf("records: got %v, want %v", got, records)
			}
			if last != seq {
				t.Errorf("last seq: got %d, want %d", last, seq)
			}
			checkContiguous(t, allEvents(t, s, 0), 1)
		})
	}
}

func testCloseTwice(t *testing.T, e *env) {
	before := stableGoroutines(-1)
	opts := e.fresh(Options{Retention: time.Hour})
	s, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	mustCommit(t, s, dispatch.Batch{Events: events(3)})
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
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
	if err := s.Follow(context.Background(), 0, func([]dispatch.Event) {}); !errors.Is(err, ErrClosed) {
		t.Errorf("Follow after Close: got %v, want ErrClosed", err)
	}
	if err := s.Ready(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Ready after Close: got %v, want ErrClosed", err)
	}
	// The client was the caller's: still usable.
	if err := e.rdb.Ping(context.Background()).Err(); err != nil {
		t.Errorf("caller's client after Close: %v", err)
	}
	if after := stableGoroutines(before); after > before {
		t.Errorf("goroutines: got %d after Close, want %d", after, before)
	}
}
