package sim

import (
	"context"
	"testing"
	"time"

	"github.com/jjj-social-work/dispatch/web/sim/simtest"
)

// RunDemo issues its own credentials from the server's file, retires its
// roster credential, and a restart reuses the clients' credentials.
func TestRunDemoReusesCredentials(t *testing.T) {
	sc, err := DecodeScenario([]byte(testScenario))
	if err != nil {
		t.Fatal(err)
	}
	srv := simtest.Start(t, simtest.Options{Policy: fastPolicy()})
	dir := t.TempDir()
	run := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
		defer cancel()
		err := RunDemo(ctx, DemoOptions{BaseURL: srv.URL, Scenario: sc, Credentials: srv.Creds, StateDir: dir})
		if err != nil {
			t.Fatalf("got %v, want the demo to stop cleanly", err)
		}
	}
	run()
	first, _ := srv.Creds.List()
	run()
	second, _ := srv.Creds.List()
	// 1 test admin + per run 1 roster loader; 30 workers + 2 desks once.
	if len(first) != 34 || len(second) != 35 {
		t.Fatalf("got %d then %d credentials, want 34 then 35", len(first), len(second))
	}
	for _, c := range second {
		if c.Name == "demo roster loader" && c.RevokedAt.IsZero() {
			t.Errorf("got roster credential %s still valid, want it revoked", c.ID)
		}
	}
}
