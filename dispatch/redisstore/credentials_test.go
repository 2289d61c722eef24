package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/jjj-social-work/dispatch/internal/redistest"
	"github.com/jjj-social-work/dispatch/web"
)

var _ web.CredentialStore = (*Credentials)(nil)

// reloadBound is web's reloadEvery: how stale a node's credentials may be.
const reloadBound = time.Second

func credNode(t *testing.T, addr, prefix string, clk *clock) (*web.Credentials, *Credentials) {
	t.Helper()
	rc, err := OpenCredentials(context.Background(), Options{Client: newClient(t, addr), Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	c, err := web.NewCredentials(rc, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	return c, rc
}

// A token issued on one node works on another once it reloads, and a
// revocation on any node reaches the others within the reload bound.
func TestCredentialsAcrossNodes(t *testing.T) {
	srv := redistest.Start(t)
	clk := &clock{t: time.Now()}
	// Node A's credentials come with its store, as dispatchd serve opens
	// them; node B's alone, as the token commands do.
	e := &env{rdb: newClient(t, srv.Addr())}
	store := e.open(t, e.fresh(Options{}))
	a, err := web.NewCredentials(store.Credentials(), clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := credNode(t, srv.Addr(), store.opts.Prefix, clk)

	tok, cr, err := a.Issue(web.IssueRequest{Name: "Hebei desk", Role: web.RoleCoordinator, Regions: []string{"HE"}, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(tok); err != nil {
		t.Fatalf("issuing node: %v", err)
	}
	clk.Advance(reloadBound)
	p, err := b.Authenticate(tok)
	if err != nil {
		t.Fatalf("other node after the reload bound: %v", err)
	}
	if p.TokenID != cr.ID || p.Role != web.RoleCoordinator || len(p.Regions) != 1 || p.Regions[0] != "HE" {
		t.Fatalf("other node: got %+v, want HE coordinator %s", p, cr.ID)
	}

	if err := b.Revoke(cr.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Authenticate(tok); !errors.Is(err, web.ErrTokenRevoked) {
		t.Fatalf("revoking node: got %v, want ErrTokenRevoked", err)
	}
	clk.Advance(reloadBound)
	if _, err := a.Authenticate(tok); !errors.Is(err, web.ErrTokenRevoked) {
		t.Fatalf("other node after the reload bound: got %v, want ErrTokenRevoked", err)
	}
	if err := a.Valid(cr.ID); !errors.Is(err, web.ErrTokenRevoked) {
		t.Fatalf("valid on the other node: got %v, want ErrTokenRevoked", err)
	}
	if err := a.Revoke("0123456789abcdef"); !errors.Is(err, web.ErrBadToken) {
		t.Fatalf("revoke unknown: got %v, want ErrBadToken", err)
	}

	// Hashed secrets only, under the store's hash tag.
	stored, err := e.rdb.HGetAll(context.Background(), "{"+store.opts.Prefix+"}:credentials").Result()
	if err != nil || len(stored) != 1 {
		t.Fatalf("stored: got %d entries, %v; want 1", len(stored), err)
	}
	if js := stored[cr.ID]; strings.Contains(js, tok) || strings.Contains(js, tok[len(tok)-20:]) || !strings.Contains(js, cr.Hash) {
		t.Fatalf("stored credential %s holds the token or lacks its hash", js)
	}
	for _, c := range []*web.Credentials{a, b} {
		list, err := c.List()
		if err != nil || len(list) != 1 || list[0].RevokedAt.IsZero() {
			t.Fatalf("list: got %+v, %v; want one revoked credential", list, err)
		}
	}
}

// Many writers changing one credential at once, through two nodes: no
// update is lost, since each is a compare-and-set on that credential.
func TestCredentialsUpdateAtomic(t *testing.T) {
	const writers, each = 4, 25
	srv := redistest.Start(t)
	prefix := (&env{}).fresh(Options{}).Prefix
	_, ra := credNode(t, srv.Addr(), prefix, &clock{t: time.Now()})
	_, rb := credNode(t, srv.Addr(), prefix, &clock{t: time.Now()})
	ctx := context.Background()
	type counter struct {
		ID string `json:"id"`
		N  int    `json:"n"`
	}
	if err := ra.Add(ctx, map[string][]byte{"c1": []byte(`{"id":"c1","n":0}`), "c2": []byte(`{"id":"c2","n":0}`)}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*writers)
	for i := range 2 * writers {
		rc := []*Credentials{ra, rb}[i%2]
		wg.Go(func() {
			for range each {
				err := rc.Update(ctx, "c1", func(cur []byte) ([]byte, error) {
					var c counter
					if err := json.Unmarshal(cur, &c); err != nil {
						return nil, err
					}
					c.N++
					return json.Marshal(c)
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	m, _, err := rb.Load(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var c1, c2 counter
	if err := json.Unmarshal(m["c1"], &c1); err != nil || c1.N != 2*writers*each {
		t.Fatalf("c1: got %s, %v; want n=%d", m["c1"], err, 2*writers*each)
	}
	if err := json.Unmarshal(m["c2"], &c2); err != nil || c2.N != 0 {
		t.Fatalf("c2 changed: got %s, %v", m["c2"], err)
	}
	// A missing credential reaches fn as nil; fn's error writes nothing.
	stop := errors.New("stop")
	err = ra.Update(ctx, "c3", func(cur []byte) ([]byte, error) {
		if cur != nil {
			return nil, fmt.Errorf("got %s for a missing credential", cur)
		}
		return nil, stop
	})
	if !errors.Is(err, stop) {
		t.Fatalf("update of a missing credential: got %v, want fn's error", err)
	}
	// Every write, and only a write, moves the version: one Add, then
	// the successful updates.
	if _, v, err := ra.Load(ctx, ""); err != nil || v != fmt.Sprint(1+2*writers*each) {
		t.Fatalf("version: got %q, %v; want %d", v, err, 1+2*writers*each)
	}
}

// IssueMany stores thousands of credentials in one transaction, and a bad
// request stores none.
func TestCredentialsIssueManyRedis(t *testing.T) {
	const n = 10_000
	srv := redistest.Start(t)
	clk := &clock{t: time.Now()}
	prefix := (&env{}).fresh(Options{}).Prefix
	a, ra := credNode(t, srv.Addr(), prefix, clk)
	b, _ := credNode(t, srv.Addr(), prefix, clk)
	ctx := context.Background()

	reqs := make([]web.IssueRequest, n)
	for i := range reqs {
		reqs[i] = web.IssueRequest{Name: fmt.Sprintf("phone %d", i), Role: web.RoleWorker, WorkerID: fmt.Sprintf("W%d", i), TTL: time.Hour}
	}
	bad := append([]web.IssueRequest(nil), reqs...)
	bad[n/2].WorkerID = ""
	if toks, err := a.IssueMany(bad); err == nil || toks != nil {
		t.Fatalf("batch with a bad request: got %d tokens, %v; want a refusal", len(toks), err)
	}
	if got := ra.rdb.HLen(ctx, ra.hash).Val(); got != 0 {
		t.Fatalf("refused batch stored %d credentials", got)
	}

	start := time.Now()
	toks, err := a.IssueMany(reqs)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d credentials in %v", n, time.Since(start))
	if got := ra.rdb.HLen(ctx, ra.hash).Val(); got != n {
		t.Fatalf("stored %d credentials, want %d", got, n)
	}
	if _, v, err := ra.Load(ctx, ""); err != nil || v != "1" {
		t.Fatalf("version: got %q, %v; want 1 (one write)", v, err)
	}
	clk.Advance(reloadBound)
	for i := 0; i < n; i += 97 {
		p, err := b.Authenticate(toks[i])
		if err != nil || p.WorkerID != reqs[i].WorkerID {
			t.Fatalf("token %d on the other node: got %+v, %v; want worker %s", i, p, err, reqs[i].WorkerID)
		}
	}
}

// With Redis down a node still authenticates the credentials it holds, and
// refuses to issue or revoke with an error that says Redis is unavailable.
// Once Redis is back (with its AOF), everything works again.
func TestCredentialsRedisDown(t *testing.T) {
	srv := redistest.Start(t, "--appendonly", "yes", "--dir", t.TempDir())
	clk := &clock{t: time.Now()}
	prefix := (&env{}).fresh(Options{}).Prefix
	a, _ := credNode(t, srv.Addr(), prefix, clk)
	tok, cr, err := a.Issue(web.IssueRequest{Role: web.RoleAdmin, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}

	srv.Kill()
	for range 3 {
		clk.Advance(reloadBound)
		if _, err := a.Authenticate(tok); err != nil {
			t.Fatalf("cached credential with redis down: %v", err)
		}
	}
	_, _, err = a.Issue(web.IssueRequest{Role: web.RoleAdmin, TTL: time.Hour})
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, dispatch.ErrUnavailable) || !strings.Contains(err.Error(), "redis unavailable") {
		t.Fatalf("issue with redis down: got %v, want an error wrapping ErrUnavailable", err)
	}
	if err := a.Revoke(cr.ID); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("revoke with redis down: got %v, want ErrUnavailable", err)
	}
	if _, err := a.List(); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("list with redis down: got %v, want ErrUnavailable", err)
	}
	if _, err := OpenCredentials(context.Background(), Options{URL: "redis://" + srv.Addr() + "?max_retries=-1", Prefix: prefix}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("open with redis down: got %v, want ErrUnavailable", err)
	}

	srv.Restart()
	deadline := time.Now().Add(10 * time.Second)
	var tok2 string
	for {
		if tok2, _, err = a.Issue(web.IssueRequest{Role: web.RoleAdmin, TTL: time.Hour}); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("issue after redis restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	clk.Advance(reloadBound)
	for _, tk := range []string{tok, tok2} {
		if _, err := a.Authenticate(tk); err != nil {
			t.Fatalf("after restart: %v", err)
		}
	}
	if list, err := a.List(); err != nil || len(list) != 2 {
		t.Fatalf("list after restart: got %d, %v; want 2", len(list), err)
	}
}
