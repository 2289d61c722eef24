package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/jjj-social-work/dispatch/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// unavailableWithin bounds how long a call may take to report an outage.
const unavailableWithin = 3 * time.Second

// TestRedisRestart kills Redis (AOF, fsync always) under a store and its
// followers: while it is down, Commit, reads and Ready say ErrUnavailable;
// after the restart everything acknowledged is there, the followers go on
// with no gap or duplicate, and new commits continue the sequence.
func TestRedisRestart(t *testing.T) {
	e, srv := standalone(t, "--appendonly", "yes", "--appendfsync", "always", "--dir", t.TempDir())
	opts := e.fresh(Options{})
	s := e.open(t, opts)
	ctx := context.Background()

	wantRecs := map[string]string{}
	wantClaims := map[string]string{}
	for i := range 10 {
		w, a := fmt.Sprintf("w%d", i), fmt.Sprintf("a%d", i)
		v := fmt.Sprintf(`{"i":%d}`, i)
		mustCommit(t, s, dispatch.Batch{
			Claims:  []dispatch.Claim{claim(w, a)},
			Events:  []dispatch.Event{{Type: "assignment.offered", WorkerID: w, AssignmentID: a}, ev("x")},
			Records: []dispatch.Record{{Kind: dispatch.KindAssignment, ID: a, Value: json.RawMessage(v)}},
		})
		wantRecs["assignment/"+a] = v
		wantClaims[w] = a
	}
	f := follow(t, s, 0)
	f.waitFor(t, 20, 5*time.Second)

	srv.Kill()
	start := time.Now()
	_, err := s.Commit(ctx, dispatch.Batch{Events: events(1)})
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, dispatch.ErrUnavailable) {
		t.Fatalf("Commit while down: got %v, want ErrUnavailable and dispatch.ErrUnavailable", err)
	}
	if d := time.Since(start); d > unavailableWithin {
		t.Errorf("Commit while down took %v, want under %v", d, unavailableWithin)
	}
	if err := s.Ready(ctx); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Ready while down: got %v, want ErrUnavailable", err)
	}
	if _, err := s.EventsAfter(ctx, 0, 1); !errors.Is(err, ErrUnavailable) {
		t.Errorf("EventsAfter while down: got %v, want ErrUnavailable", err)
	}
	if _, err := Open(ctx, opts); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Open while down: got %v, want ErrUnavailable", err)
	}
	// A follower that starts during the outage waits for Redis too.
	late := follow(t, s, 17)
	time.Sleep(300 * time.Millisecond) // a few retries

	srv.Restart()
	deadline := time.Now().Add(5 * time.Second)
	for s.Ready(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("Ready after restart: %v", s.Ready(ctx))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := claimsOf(t, s); !maps.Equal(got, wantClaims) {
		t.Errorf("claims after restart: got %v, want %v", got, wantClaims)
	}
	got, last := loadAll(t, s)
	if !maps.Equal(got, wantRecs) || last != 20 {
		t.Errorf("records after restart: got %v at %d, want %v at 20", got, last, wantRecs)
	}
	evs := mustCommit(t, s, dispatch.Batch{Events: events(3)})
	checkContiguous(t, evs, 21)
	checkContiguous(t, allEvents(t, s, 0), 1)

	seen := f.waitFor(t, 23, 10*time.Second)
	checkContiguous(t, seen, 1)
	lateSeen := late.waitFor(t, 6, 10*time.Second)
	checkContiguous(t, lateSeen, 18)
	time.Sleep(100 * time.Millisecond) // room for a duplicate to show
	if n := len(f.events()); n != 23 {
		t.Errorf("follower: got %d events, want 23", n)
	}
	if err := f.stop(t); !errors.Is(err, context.Canceled) {
		t.Errorf("Follow: got %v, want context.Canceled", err)
	}
}

// TestFollowLostWrites restarts a Redis without persistence under a
// follower: the log is now behind what the follower delivered, and it
// stops with ErrLostWrites rather than wait for seqs it has seen to be
// handed out again.
func TestFollowLostWrites(t *testing.T) {
	e, srv := standalone(t)
	s := e.open(t, e.fresh(Options{}))
	mustCommit(t, s, dispatch.Batch{Events: events(5)})
	f := follow(t, s, 0)
	f.waitFor(t, 5, 5*time.Second)
	srv.Restart()
	select {
	case err := <-f.done:
		if !errors.Is(err, ErrLostWrites) || !errors.Is(err, dispatch.ErrLogTruncated) {
			t.Errorf("Follow after lost writes: got %v, want ErrLostWrites and ErrLogTruncated", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Follow did not notice the lost writes")
	}
	if err := s.Follow(context.Background(), 5, func([]dispatch.Event) {}); !errors.Is(err, ErrLostWrites) {
		t.Errorf("Follow from beyond the log: got %v, want ErrLostWrites", err)
	}
}

// TestFollowReplacedHistory cuts a follower off, replaces the log behind
// its back with as many events but different ones (what a failover to a
// replica that missed the last writes, then new commits, looks like), and
// lets it back: it must not carry on as if its position meant the same.
func TestFollowReplacedHistory(t *testing.T) {
	srv := redistest.Start(t)
	px := startProxy(t, srv.Addr())
	opts := (&env{}).fresh(Options{})
	s := (&env{rdb: newClient(t, px.Addr())}).open(t, opts)
	mustCommit(t, s, dispatch.Batch{Events: events(5)})
	f := follow(t, s, 0)
	f.waitFor(t, 5, 5*time.Second)

	px.setCut(true)
	ctx := context.Background()
	for s.Ready(ctx) == nil {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // the follower meets the outage
	direct := &env{rdb: newClient(t, srv.Addr())}
	if err := direct.rdb.FlushDB(ctx).Err(); err != nil {
		t.Fatalf("FLUSHDB: %v", err)
	}
	other := direct.open(t, opts)
	mustCommit(t, other, dispatch.Batch{Events: []dispatch.Event{ev("a"), ev("b"), ev("c"), ev("d"), ev("e"), ev("f"), ev("g")}})
	px.setCut(false)

	select {
	case err := <-f.done:
		if !errors.Is(err, ErrLostWrites) || !errors.Is(err, dispatch.ErrLogTruncated) {
			t.Errorf("Follow after replaced history: got %v, want ErrLostWrites", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("Follow did not notice; delivered %d events", len(f.events()))
	}
	if got := f.events(); len(got) != 5 {
		t.Errorf("delivered %d events, want the 5 from before", len(got))
	}
}

// TestCommitErrorsChangeNothing checks the script's refusal paths leave
// every key as it was, byte for byte (DUMP).
func TestCommitErrorsChangeNothing(t *testing.T) {
	e, _ := standalone(t)
	s := e.open(t, e.fresh(Options{}))
	ctx := context.Background()
	mustCommit(t, s, dispatch.Batch{
		Claims:  []dispatch.Claim{claim("w1", "a1")},
		Events:  events(2),
		Records: []dispatch.Record{{Kind: dispatch.KindWorker, ID: "w1", Value: []byte(`{}`)}},
	})
	keys := []string{s.keys.seq, s.keys.events, s.keys.claims, s.keys.kinds, s.keys.record("worker"), s.keys.record("incident")}
	dump := func() map[string]string {
		m := map[string]string{}
		for _, k := range keys {
			v, err := s.rdb.Dump(ctx, k).Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				t.Fatalf("DUMP %s: %v", k, err)
			}
			m[k] = v
		}
		return m
	}
	before := dump()
	for _, b := range []dispatch.Batch{
		{ // claim conflict after a release, a claim and records
			Releases: []string{"w9"},
			Claims:   []dispatch.Claim{claim("w2", "a2"), claim("w1", "a3")},
			Events:   events(3),
			Records:  []dispatch.Record{{Kind: dispatch.KindIncident, ID: "i1", Value: []byte(`{}`)}},
		},
		{ // a given seq that is not the next one
			Releases: []string{"w1"},
			Events:   []dispatch.Event{ev("x"), {Type: "y", Seq: 9}},
			Records:  []dispatch.Record{{Kind: dispatch.KindWorker, ID: "w1"}},
		},
	} {
		if _, err := s.Commit(ctx, b); err == nil {
			t.Fatalf("Commit: got nil error, want a refusal")
		}
		if after := dump(); !maps.Equal(after, before) {
			t.Errorf("keys changed by a refused batch")
		}
	}
}

// TestOpen covers the options and the URL forms.
func TestOpen(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()

	s, err := Open(ctx, Options{URL: "redis://" + srv.Addr() + "/0?dial_timeout=1s", Prefix: "url"})
	if err != nil {
		t.Fatalf("Open by URL: %v", err)
	}
	mustCommit(t, s, dispatch.Batch{Events: events(1)})
	rdb := s.rdb
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := rdb.Ping(ctx).Err(); !errors.Is(err, redis.ErrClosed) {
		t.Errorf("owned client after Close: got %v, want redis.ErrClosed", err)
	}

	for _, tt := range []struct {
		name string
		opts Options
	}{
		{"neither client nor url", Options{}},
		{"both client and url", Options{URL: "redis://" + srv.Addr(), Client: newClient(t, srv.Addr())}},
		{"braces in prefix", Options{URL: "redis://" + srv.Addr(), Prefix: "a{b}"}},
		{"negative maxlen", Options{URL: "redis://" + srv.Addr(), MaxLen: -1}},
		{"bad scheme", Options{URL: "http://" + srv.Addr()}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if s, err := Open(ctx, tt.opts); err == nil {
				s.Close()
				t.Errorf("Open: got nil error, want one")
			}
		})
	}

	start := time.Now()
	dead := fmt.Sprintf("redis://127.0.0.1:%d?dial_timeout=1s", freePort(t))
	if _, err := Open(ctx, Options{URL: dead}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Open on a closed port: got %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > unavailableWithin {
		t.Errorf("Open on a closed port took %v, want under %v", d, unavailableWithin)
	}

	for _, tt := range []struct {
		url, want string
	}{
		{"redis://127.0.0.1:6379/2", "*redis.Client"},
		{"rediss://user:pw@127.0.0.1:6379", "*redis.Client"},
		{"redis://127.0.0.1:7000?addr=127.0.0.1:7001&addr=127.0.0.1:7002", "*redis.ClusterClient"},
		{"redis://127.0.0.1:7000?cluster=true", "*redis.ClusterClient"},
		{"redis://127.0.0.1:26379?master_name=main&addr=127.0.0.1:26380", "*redis.Client"},
	} {
		c, err := clientFromURL(tt.url)
		if err != nil {
			t.Errorf("%s: %v", tt.url, err)
			continue
		}
		if got := fmt.Sprintf("%T", c); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.url, got, tt.want)
		}
		c.Close()
	}
}

// TestOutOfMemory: with maxmemory reached and noeviction, a commit is
// refused as unavailable and writes nothing; reads go on.
func TestOutOfMemory(t *testing.T) {
	e, _ := standalone(t, "--maxmemory-policy", "noeviction")
	s := e.open(t, e.fresh(Options{}))
	ctx := context.Background()
	mustCommit(t, s, dispatch.Batch{Events: events(2), Claims: []dispatch.Claim{claim("w1", "a1")}})
	if err := e.rdb.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil {
		t.Fatalf("CONFIG SET: %v", err)
	}
	t.Cleanup(func() { e.rdb.ConfigSet(ctx, "maxmemory", "0") })
	_, err := s.Commit(ctx, dispatch.Batch{
		Events:   events(1),
		Releases: []string{"w1"},
		Claims:   []dispatch.Claim{claim("w2", "a2")},
		Records:  []dispatch.Record{{Kind: dispatch.KindWorker, ID: "w2", Value: []byte(`{}`)}},
	})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Commit at maxmemory: got %v, want ErrUnavailable", err)
	}
	if got := claimsOf(t, s); !maps.Equal(got, map[string]string{"w1": "a1"}) {
		t.Errorf("claims: got %v, want w1 only", got)
	}
	if got := allEvents(t, s, 0); len(got) != 2 {
		t.Errorf("events: got %d, want 2", len(got))
	}
	if recs, last := loadAll(t, s); len(recs) != 0 || last != 2 {
		t.Errorf("records: got %v at %d, want none at 2", recs, last)
	}
}
