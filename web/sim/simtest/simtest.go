// Package simtest starts a real dispatch server in-process for tests of
// the simulator and the load tool: the engine over an in-memory store,
// the web server with its credentials file, served by httptest on a
// loopback port.
package simtest

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/jjj-social-work/dispatch/dispatch/memstore"
	"github.com/jjj-social-work/dispatch/web"
)

// Server is a running test server.
type Server struct {
	URL string
	// Dir holds the credentials file (credentials.json), like a data dir.
	Dir        string
	AdminToken string
	Creds      *web.Credentials
	Engine     *dispatch.Engine
	Web        *web.Server
}

// Options tune the server; the zero value serves the default policy.
type Options struct {
	Policy *dispatch.Policy
	Logger *slog.Logger
}

// Start runs a server until the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	store := memstore.New()
	ctx, cancel := context.WithCancel(context.Background())
	eng, err := dispatch.New(ctx, dispatch.Options{Store: store, Policy: o.Policy, Logger: o.Logger})
	if err != nil {
		cancel()
		t.Fatalf("engine: %v", err)
	}
	dir := t.TempDir()
	creds, err := web.OpenCredentials(filepath.Join(dir, "credentials.json"), nil)
	if err != nil {
		cancel()
		t.Fatalf("credentials: %v", err)
	}
	admin, _, err := creds.Issue(web.IssueRequest{Name: "test admin", Role: web.RoleAdmin, TTL: time.Hour})
	if err != nil {
		cancel()
		t.Fatalf("issue admin: %v", err)
	}
	srv, err := web.New(web.Options{Auth: creds, Events: store, StartSeq: eng.LastSeq(), Engine: eng, Logger: o.Logger})
	if err != nil {
		cancel()
		t.Fatalf("web server: %v", err)
	}
	ts := httptest.NewServer(srv.Handler())
	done := make(chan struct{}, 2)
	go func() { _ = eng.Run(ctx); done <- struct{}{} }()
	go func() { _ = srv.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = srv.Shutdown(sctx)
		ts.Close()
		cancel()
		<-done
		<-done
		store.Close()
	})
	return &Server{URL: ts.URL, Dir: dir, AdminToken: admin, Creds: creds, Engine: eng, Web: srv}
}
