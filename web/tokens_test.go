package web

import (
	"errors"
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
