package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch/redisstore"
	"github.com/jjj-social-work/dispatch/internal/redistest"
	"github.com/jjj-social-work/dispatch/web"
	"github.com/jjj-social-work/dispatch/web/sim"
	"github.com/jjj-social-work/dispatch/web/sim/simtest"
)

// A tiny run against a real in-process server: percentiles reported,
// nothing lost or duplicated, and the run's admin credential revoked.
func TestTinyRun(t *testing.T) {
	srv := simtest.Start(t, simtest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errs bytes.Buffer
	args := []string{"-url", srv.URL, "-data-dir", srv.Dir, "-workers", "50", "-coordinators", "5",
		"-rate", "20", "-duration", "1s", "-settle", "100ms", "-json", "-log-level", "warn"}
	if err := run(ctx, args, &out, &errs); err != nil {
		t.Fatalf("run: %v\n%s", err, errs.String())
	}
	var rep sim.LoadReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("report %s: %v", out.String(), err)
	}
	if rep.IntakeToOffer.Count == 0 || rep.IntakeToOffer.P99 == 0 || rep.AcceptToAll.Count == 0 || rep.AcceptToAll.P99 == 0 {
		t.Errorf("got intake→offer %+v and accept→all %+v, want both measured", rep.IntakeToOffer, rep.AcceptToAll)
	}
	if rep.Lost != 0 || rep.Duplicated != 0 {
		t.Errorf("got %d lost and %d duplicated events, want none", rep.Lost, rep.Duplicated)
	}
	creds, _ := srv.Creds.List()
	for _, c := range creds {
		if c.Name == "dispatchload" && c.RevokedAt.IsZero() {
			t.Errorf("got the run's admin credential %s still valid, want it revoked", c.ID)
		}
	}
}

func TestRefusesRemoteTarget(t *testing.T) {
	for _, url := range []string{"http://192.0.2.7:8080", "http://example.org", "http://10.1.2.3"} {
		var out, errs bytes.Buffer
		// The data dir does not exist: a refusal must come before anything is touched.
		err := run(context.Background(), []string{"-url", url, "-data-dir", "/nonexistent"}, &out, &errs)
		if !errors.Is(err, sim.ErrNotLoopback) {
			t.Errorf("%s: got %v, want ErrNotLoopback", url, err)
		}
	}
}

func TestBoundsRefused(t *testing.T) {
	srv := simtest.Start(t, simtest.Options{})
	for _, args := range [][]string{
		{"-workers", "0"}, {"-workers", "50001"}, {"-coordinators", "5001"},
		{"-rate", "0"}, {"-rate", "2001"}, {"-duration", "11m"},
	} {
		var out, errs bytes.Buffer
		all := append([]string{"-url", srv.URL, "-data-dir", srv.Dir}, args...)
		err := run(context.Background(), all, &out, &errs)
		if err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(args[0], "-")) {
			t.Errorf("%v: got %v, want an error naming %s", args, err, args[0])
		}
	}
}

// -prepare issues the run's credentials without the server and a second
// time reuses them.
func TestPrepareReuses(t *testing.T) {
	srv := simtest.Start(t, simtest.Options{})
	args := []string{"-prepare", "-url", srv.URL, "-data-dir", srv.Dir, "-workers", "5", "-coordinators", "2"}
	counts := make([]int, 2)
	for i := range counts {
		var out, errs bytes.Buffer
		if err := run(context.Background(), args, &out, &errs); err != nil {
			t.Fatalf("prepare: %v\n%s", err, errs.String())
		}
		if !strings.HasPrefix(out.String(), "7 credentials ready") {
			t.Fatalf("got %q, want 7 credentials ready", out.String())
		}
		list, _ := srv.Creds.List()
		counts[i] = len(list)
	}
	if counts[0] != 8 || counts[1] != 8 { // the test's admin and the 7
		t.Errorf("got %v credentials after each prepare, want 8 both times", counts)
	}
}

// With -redis-url the credentials go where servers sharing a Redis read
// them, not into a data dir.
func TestPrepareIntoRedis(t *testing.T) {
	rs := redistest.Start(t)
	redisURL := "redis://" + rs.Addr()
	args := []string{"-prepare", "-redis-url", redisURL, "-data-dir", t.TempDir(), "-workers", "5", "-coordinators", "2"}
	var out, errs bytes.Buffer
	if err := run(context.Background(), args, &out, &errs); err != nil {
		t.Fatalf("prepare: %v\n%s", err, errs.String())
	}
	rc, err := redisstore.OpenCredentials(context.Background(), redisstore.Options{URL: redisURL})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	creds, err := web.NewCredentials(rc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if list, err := creds.List(); err != nil || len(list) != 7 {
		t.Fatalf("got %d credentials in Redis (%v), want 7", len(list), err)
	}
}

func TestRefusesRemoteRedis(t *testing.T) {
	for _, u := range []string{"redis://10.1.2.3:6379", "redis://example.org:6379", "redis://127.0.0.1:6379?addr=10.0.0.1:6379", "http://127.0.0.1:6379"} {
		var out, errs bytes.Buffer
		err := run(context.Background(), []string{"-prepare", "-redis-url", u, "-data-dir", t.TempDir()}, &out, &errs)
		if err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("%s: got %v, want a refusal naming loopback", u, err)
		}
	}
}
