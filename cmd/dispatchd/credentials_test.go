package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jjj-social-work/dispatch/internal/redistest"
)

// eventually polls until status of path with tok on base is want.
func eventually(t *testing.T, base, path, tok string, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, _ := api("GET", base+path, tok, nil)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s on %s: got %d, want %d", path, base, got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// With a Redis URL, the token commands and every node use the credentials
// in Redis: a token issued by the CLI, or the demo token printed by one
// node, works on all of them, and a revocation reaches all of them.
func TestServeSharedCredentials(t *testing.T) {
	srv := redistest.Start(t)
	t.Setenv(redisURLEnv, "redis://"+srv.Addr()+"?max_retries=1")

	// The demo token of the first node comes from the (empty) Redis.
	addrA, addrB := freeAddr(t), freeAddr(t)
	baseA, baseB := "http://"+addrA, "http://"+addrB
	demo, stopA := serveForTest(t, map[string]any{"listen": addrA, "demo": true, "log_level": "warn"}, http.DefaultClient, baseA)
	if demo == "" {
		t.Fatal("no demo token printed with the credentials in redis")
	}
	second, stopB := serveForTest(t, map[string]any{"listen": addrB, "demo": true, "log_level": "warn"}, http.DefaultClient, baseB)
	if second != "" {
		t.Fatal("a second node printed another demo token: redis already holds credentials")
	}
	eventually(t, baseB, "/api/v1/me", demo, http.StatusOK)

	dataDir := t.TempDir()
	var out bytes.Buffer
	if err := run(t.Context(), []string{"token", "issue", "-data-dir", dataDir, "--role", "administrator", "--name", "ops"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	tok := lines[len(lines)-1]
	if _, err := os.Stat(filepath.Join(dataDir, "credentials.json")); err == nil {
		t.Fatal("the token went into the data dir, not redis")
	}
	for _, base := range []string{baseA, baseB} {
		eventually(t, base, "/api/v1/policy", tok, http.StatusOK)
	}

	out.Reset()
	if err := run(t.Context(), []string{"token", "list"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "demo joint desk") || !strings.Contains(out.String(), "ops") {
		t.Fatalf("list: got\n%s", out.String())
	}
	id := strings.Split(tok, "_")[1]
	if err := run(t.Context(), []string{"token", "revoke", id}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, base := range []string{baseA, baseB} {
		eventually(t, base, "/api/v1/policy", tok, http.StatusUnauthorized)
	}

	// Redis down: the commands say so rather than fall back to a file.
	for _, stop := range []func() error{stopA, stopB} {
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	}
	srv.Kill()
	err := run(t.Context(), []string{"token", "issue", "-data-dir", dataDir, "--role", "administrator"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "redis unavailable") {
		t.Fatalf("issue with redis down: got %v, want redis unavailable", err)
	}
}
