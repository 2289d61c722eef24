package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/jjj-social-work/dispatch/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// TestMain silences go-redis's own logger: its dial failures during the
// fault tests are expected, and the store logs what matters through slog.
func TestMain(m *testing.M) {
	redis.SetLogger(quiet{})
	os.Exit(m.Run())
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// env is one Redis deployment the suite runs against. Every test takes a
// prefix of its own, so tests share the servers without seeing each other;
// on Cluster different prefixes land on different shards.
type env struct {
	rdb redis.UniversalClient
}

var prefixes atomic.Int64

// fresh returns opts with a new prefix and this env's client.
func (e *env) fresh(opts Options) Options {
	opts.Client = e.rdb
	opts.Prefix = fmt.Sprintf("t%d", prefixes.Add(1))
	return opts
}

// open opens a Store with opts (prefix included) and closes it when the
// test ends.
func (e *env) open(t testing.TB, opts Options) *Store {
	t.Helper()
	opts.Client = e.rdb
	s, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// standalone starts one redis-server with extra args and returns an env on
// it, with the server for fault tests.
func standalone(t testing.TB, args ...string) (*env, *redistest.Server) {
	t.Helper()
	srv := redistest.Start(t, args...)
	return &env{rdb: newClient(t, srv.Addr())}, srv
}

// newClient builds a universal client for addrs, closed when the test
// ends. Few retries and short timeouts keep fault tests fast.
func newClient(t testing.TB, addrs ...string) redis.UniversalClient {
	t.Helper()
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:         addrs,
		DialTimeout:   time.Second,
		DialerRetries: 2,
		MaxRetries:    1,
		ReadTimeout:   2 * time.Second,
		WriteTimeout:  2 * time.Second,
	})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// startCluster starts three masters with cluster mode on, joined and
// serving every slot, and returns their addresses (redistest).
func startCluster(t testing.TB) []string {
	t.Helper()
	return redistest.StartCluster(t, 3).Addrs()
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func claim(w, a string) dispatch.Claim { return dispatch.Claim{WorkerID: w, AssignmentID: a} }

func ev(typ string) dispatch.Event { return dispatch.Event{Type: typ} }

func events(n int) []dispatch.Event {
	out := make([]dispatch.Event, n)
	for i := range out {
		out[i] = dispatch.Event{Type: "test.event", Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))}
	}
	return out
}

// mustCommit commits b and waits for it.
func mustCommit(t testing.TB, s *Store, b dispatch.Batch) []dispatch.Event {
	t.Helper()
	c, err := s.Commit(context.Background(), b)
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if err := c.Wait(context.Background()); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	return c.Events
}

// allEvents reads the whole retained log after `after` through EventsAfter.
func allEvents(t testing.TB, s *Store, after uint64) []dispatch.Event {
	t.Helper()
	var out []dispatch.Event
	for {
		evs, err := s.EventsAfter(context.Background(), after, 0)
		if err != nil {
			t.Fatalf("EventsAfter(%d): %v", after, err)
		}
		if len(evs) == 0 {
			return out
		}
		out = append(out, evs...)
		after = evs[len(evs)-1].Seq
	}
}

// loadAll returns the stored records as "kind/id" -> value, and the last seq.
func loadAll(t testing.TB, s *Store) (map[string]string, uint64) {
	t.Helper()
	got := map[string]string{}
	last, err := s.Load(context.Background(), func(r dispatch.Record) error {
		k := string(r.Kind) + "/" + r.ID
		if _, dup := got[k]; dup {
			t.Errorf("Load: %s twice", k)
		}
		got[k] = string(r.Value)
		return nil
	})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return got, last
}

func claimsOf(t testing.TB, s *Store) map[string]string {
	t.Helper()
	m, err := s.Claims(context.Background())
	if err != nil {
		t.Fatalf("Claims: %v", err)
	}
	return m
}

// checkContiguous fails unless evs have seqs from, from+1, ... in order.
func checkContiguous(t testing.TB, evs []dispatch.Event, from uint64) {
	t.Helper()
	for i, e := range evs {
		if want := from + uint64(i); e.Seq != want {
			t.Fatalf("event %d: got seq %d, want %d", i, e.Seq, want)
		}
	}
}

// follower runs Follow in the background and collects what it delivers.
type follower struct {
	mu     sync.Mutex
	seen   []dispatch.Event
	calls  atomic.Int32 // fn calls running now; must never exceed 1
	cancel context.CancelFunc
	done   chan error
}

func follow(t testing.TB, s *Store, after uint64) *follower {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f := &follower{cancel: cancel, done: make(chan error, 1)}
	go func() {
		f.done <- s.Follow(ctx, after, func(evs []dispatch.Event) {
			if f.calls.Add(1) != 1 {
				t.Errorf("fn called concurrently")
			}
			f.mu.Lock()
			f.seen = append(f.seen, evs...)
			f.mu.Unlock()
			f.calls.Add(-1)
		})
	}()
	t.Cleanup(cancel)
	return f
}

func (f *follower) events() []dispatch.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]dispatch.Event(nil), f.seen...)
}

// waitFor waits until the follower has seen n events, failing after d.
func (f *follower) waitFor(t testing.TB, n int, d time.Duration) []dispatch.Event {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		evs := f.events()
		if len(evs) >= n {
			return evs
		}
		select {
		case err := <-f.done:
			t.Fatalf("Follow ended after %d of %d events: %v", len(evs), n, err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("follower saw %d events, want %d", len(evs), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stop cancels Follow and returns its error.
func (f *follower) stop(t testing.TB) error {
	t.Helper()
	f.cancel()
	select {
	case err := <-f.done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatalf("Follow did not return after cancel")
		return nil
	}
}

// clock is a settable Now for retention tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2023, 7, 31, 8, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// stableGoroutines returns the goroutine count once it is at most want, or
// after two seconds; want < 0 just waits for it to settle briefly.
func stableGoroutines(want int) int {
	deadline := time.Now().Add(2 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if (want >= 0 && n <= want) || time.Now().After(deadline) {
			return n
		}
		if want < 0 {
			time.Sleep(20 * time.Millisecond)
			return runtime.NumGoroutine()
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// proxy is a TCP proxy in front of Redis that a test can cut and restore,
// to make a store see an outage while the test still reaches Redis.
type proxy struct {
	ln      net.Listener
	backend string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func startProxy(t testing.TB, backend string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: listen: %v", err)
	}
	p := &proxy{ln: ln, backend: backend, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.setCut(true)
		p.wg.Wait()
	})
	return p
}

func (p *proxy) Addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		b, err := net.Dial("tcp", p.backend)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[b] = struct{}{}, struct{}{}
		p.wg.Add(2)
		p.mu.Unlock()
		pipe := func(dst, src net.Conn) {
			defer p.wg.Done()
			buf := make([]byte, 32<<10)
			for {
				n, err := src.Read(buf)
				if n > 0 {
					if _, werr := dst.Write(buf[:n]); werr != nil {
						break
					}
				}
				if err != nil {
					break
				}
			}
			dst.Close()
			src.Close()
		}
		go pipe(b, c)
		go pipe(c, b)
	}
}

// setCut closes every proxied connection and refuses new ones (true), or
// lets connections through again (false).
func (p *proxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
	}
}
