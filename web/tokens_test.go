package web

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCredentialsLifecycle(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "credentials.json")
	clock := newTestClock()
	c, err := OpenCredentials(path, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Empty() {
		t.Fatal("new credentials: got non-empty, want empty")
	}
	tok, cr, err := c.Issue(IssueRequest{Name: "Hebei desk", Role: RoleCoordinator, Regions: []string{"HE"}, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Authenticate(tok)
	if err != nil {
		t.Fatalf("authenticate: %v", err)
	}
	if p.Role != RoleCoordinator || len(p.Regions) != 1 || p.Regions[0] != "HE" || p.TokenID != cr.ID {
		t.Fatalf("got principal %+v, want HE coordinator %s", p, cr.ID)
	}

	// Stored hashed, private to the owner.
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), tok) || strings.Contains(string(b), tok[len(tok)-20:]) {
		t.Fatal("credentials file contains the token")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("got mode %v, want 0600", fi.Mode().Perm())
	}

	// A tampered token fails, as do malformed ones.
	flip := "A"
	if strings.HasSuffix(tok, flip) {
		flip = "B"
	}
	for _, bad := range []string{tok[:len(tok)-1] + flip, tok + "x", "", "jjj_", "Bearer " + tok, strings.ToUpper(tok)} {
		if _, err := c.Authenticate(bad); !errors.Is(err, ErrBadToken) {
			t.Errorf("authenticate %q: got %v, want ErrBadToken", bad, err)
		}
	}

	// Another process (the CLI) revokes; the server notices after reloadEvery.
	other, err := OpenCredentials(path, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Revoke(cr.ID); err != nil {
		t.Fatal(err)
	}
	clock.Set(clock.Now().Add(reloadEvery))
	if _, err := c.Authenticate(tok); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("after revoke: got %v, want ErrTokenRevoked", err)
	}
	if err := c.Valid(cr.ID); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("valid after revoke: got %v, want ErrTokenRevoked", err)
	}

	// Expiry.
	tok2, _, err := c.Issue(IssueRequest{Role: RoleWorker, WorkerID: "W1", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	clock.Set(clock.Now().Add(time.Minute))
	if _, err := c.Authenticate(tok2); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("after ttl: got %v, want ErrTokenExpired", err)
	}

	list, err := c.List()
	if err != nil || len(list) != 2 {
		t.Fatalf("list: got %d, %v, want 2", len(list), err)
	}
	if err := c.Revoke("nope"); !errors.Is(err, ErrBadToken) {
		t.Fatalf("revoke unknown: got %v, want ErrBadToken", err)
	}
	// No temp files left behind.
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("got %d files in the data dir, want 1", len(ents))
	}
}

func TestIssueRequestValidation(t *testing.T) {
	c, err := OpenCredentials(filepath.Join(t.TempDir(), "c.json"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		req  IssueRequest
	}{
		{"no role", IssueRequest{TTL: time.Hour}},
		{"bad role", IssueRequest{Role: "root", TTL: time.Hour}},
		{"bad region", IssueRequest{Role: RoleCoordinator, Regions: []string{"SH"}, TTL: time.Hour}},
		{"worker without id", IssueRequest{Role: RoleWorker, TTL: time.Hour}},
		{"regions on worker", IssueRequest{Role: RoleWorker, WorkerID: "W1", Regions: []string{"HE"}, TTL: time.Hour}},
		{"worker id on admin", IssueRequest{Role: RoleAdmin, WorkerID: "W1", TTL: time.Hour}},
		{"no ttl", IssueRequest{Role: RoleAdmin}},
	} {
		if _, _, err := c.Issue(tc.req); err == nil {
			t.Errorf("%s: got nil error, want refusal", tc.name)
		}
	}
	if !c.Empty() {
		t.Error("refused requests wrote credentials")
	}
}

// countingStore counts the writes that reach a CredentialStore.
type countingStore struct {
	CredentialStore
	adds, updates int
}

func (s *countingStore) Add(ctx context.Context, creds map[string][]byte) error {
	s.adds++
	return s.CredentialStore.Add(ctx, creds)
}

func (s *countingStore) Update(ctx context.Context, id string, fn func([]byte) ([]byte, error)) error {
	s.updates++
	return s.CredentialStore.Update(ctx, id, fn)
}

// Bulk issuing writes the file once, whatever the count: one by one, each
// credential would rewrite the whole file.
func TestIssueMany(t *testing.T) {
	const n = 10_000
	path := filepath.Join(t.TempDir(), "credentials.json")
	store := &countingStore{CredentialStore: newFileCredentials(path)}
	c, err := NewCredentials(store, nil)
	if err != nil {
		t.Fatal(err)
	}
	reqs := make([]IssueRequest, n)
	for i := range reqs {
		reqs[i] = IssueRequest{Name: fmt.Sprintf("phone %d", i), Role: RoleWorker, WorkerID: fmt.Sprintf("W%d", i), TTL: time.Hour}
	}
	reqs[0] = IssueRequest{Name: "Tianjin desk", Role: RoleCoordinator, Regions: []string{"TJ"}, TTL: time.Hour}
	start := time.Now()
	toks, err := c.IssueMany(reqs)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("%d credentials in %v", n, took)
	if store.adds != 1 {
		t.Fatalf("got %d writes, want 1", store.adds)
	}
	if len(toks) != n {
		t.Fatalf("got %d tokens, want %d", len(toks), n)
	}
	// In request order, each valid, here and in another process's view.
	other, err := OpenCredentials(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, tok := range toks {
		for _, cr := range []*Credentials{c, other} {
			p, err := cr.Authenticate(tok)
			if err != nil {
				t.Fatalf("token %d: %v", i, err)
			}
			if p.Name != reqs[i].Name || p.WorkerID != reqs[i].WorkerID || p.Role != reqs[i].Role {
				t.Fatalf("token %d: got %+v, want request %+v", i, p, reqs[i])
			}
		}
	}
	if list, err := other.List(); err != nil || len(list) != n {
		t.Fatalf("list: got %d, %v, want %d", len(list), err, n)
	}
	if toks, err := c.IssueMany(nil); err != nil || toks != nil || store.adds != 1 {
		t.Fatalf("no requests: got %v, %v, %d writes; want nothing written", toks, err, store.adds)
	}
}

// One bad request refuses the whole batch: nothing is written.
func TestIssueManyAllOrNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "credentials.json")
	store := &countingStore{CredentialStore: newFileCredentials(path)}
	c, err := NewCredentials(store, nil)
	if err != nil {
		t.Fatal(err)
	}
	reqs := []IssueRequest{
		{Role: RoleAdmin, TTL: time.Hour},
		{Role: RoleWorker, WorkerID: "W1", TTL: time.Hour},
		{Role: RoleWorker, TTL: time.Hour}, // no worker id
		{Role: RoleCoordinator, TTL: time.Hour},
	}
	toks, err := c.IssueMany(reqs)
	if err == nil || !strings.Contains(err.Error(), "request 2") {
		t.Fatalf("got %v, %v; want an error naming request 2", toks, err)
	}
	if toks != nil || store.adds != 0 || !c.Empty() {
		t.Fatalf("refused batch: got %d tokens, %d writes, empty %v; want nothing", len(toks), store.adds, c.Empty())
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("refused batch created the file: %v", err)
	}
}

// A broken file keeps the last good set: a half-edited file must not log
// everybody out; a fixed one is read again.
func TestCredentialsBrokenFileKeepsCache(t *testing.T) {
	path := filepath.Join(t.TempDir(), "credentials.json")
	clock := newTestClock()
	c, err := OpenCredentials(path, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := c.Issue(IssueRequest{Role: RoleAdmin, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(path)
	if err := os.WriteFile(path, []byte(`{"version":1,"credentials":[{`), 0o600); err != nil {
		t.Fatal(err)
	}
	clock.Set(clock.Now().Add(reloadEvery))
	if _, err := c.Authenticate(tok); err != nil {
		t.Fatalf("broken file: got %v, want the cached credential", err)
	}
	if _, err := c.List(); err == nil {
		t.Fatal("list of a broken file: got nil error")
	}
	if _, err := OpenCredentials(path, nil); err == nil {
		t.Fatal("open of a broken file: got nil error")
	}
	if err := os.WriteFile(path, good, 0o600); err != nil {
		t.Fatal(err)
	}
	if list, err := c.List(); err != nil || len(list) != 1 {
		t.Fatalf("list after repair: got %d, %v", len(list), err)
	}
}
