package sim

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/jjj-social-work/dispatch/web"
	"github.com/jjj-social-work/dispatch/web/sim/simtest"
)

// Two small runs against one server: the second must not be answered
// from the server's memory of the first (message ids differ per run).
func TestRunLoadSmall(t *testing.T) {
	pol := dispatch.DefaultPolicy()
	pol.Batch.MinIncidents = 0 // offers at once: the run drains sooner
	srv := simtest.Start(t, simtest.Options{Policy: &pol})
	for run := range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		rep, err := RunLoad(ctx, LoadOptions{BaseURL: srv.URL, AdminToken: srv.AdminToken,
			Issuer: CredentialsIssuer(srv.Creds, time.Hour), Workers: 50, Coordinators: 5, Rate: 20,
			Duration: 1500 * time.Millisecond, Positions: time.Second, Settle: 100 * time.Millisecond, Seed: 1})
		cancel()
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		var out bytes.Buffer
		rep.Print(&out)
		t.Logf("run %d:\n%s", run, out.String())
		checkReport(t, rep)
	}
}

func checkReport(t *testing.T, rep *LoadReport) {
	t.Helper()
	if rep.IncidentsSent < 20 || rep.IntakeErrors != 0 {
		t.Errorf("got %d incidents sent, %d failed; want >= 20 and none failed", rep.IncidentsSent, rep.IntakeErrors)
	}
	if rep.IntakeToOffer.Count != rep.IncidentsSent || rep.AcceptToAll.Count != rep.Offers {
		t.Errorf("got %d intake→offer and %d accept→all samples for %d incidents and %d offers, want one each",
			rep.IntakeToOffer.Count, rep.AcceptToAll.Count, rep.IncidentsSent, rep.Offers)
	}
	p := rep.IntakeToOffer
	if !(p.P50 > 0 && p.P50 <= p.P90 && p.P90 <= p.P99 && p.P99 <= p.Max) {
		t.Errorf("got percentiles %+v, want 0 < p50 <= p90 <= p99 <= max", p)
	}
	if rep.Lost != 0 || rep.Duplicated != 0 || rep.Late != 0 || rep.Resets != 0 || rep.AcceptsUnseen != 0 || rep.Unoffered != 0 {
		t.Errorf("got lost %d, duplicated %d, late %d, resets %d, unseen %d, unoffered %d: want all zero",
			rep.Lost, rep.Duplicated, rep.Late, rep.Resets, rep.AcceptsUnseen, rep.Unoffered)
	}
	if rep.WorkerErrors != 0 || rep.EventTypes["assignment.completed"] != uint64(rep.Offers) {
		t.Errorf("got %d worker errors and %d completions for %d offers, want none and one each",
			rep.WorkerErrors, rep.EventTypes["assignment.completed"], rep.Offers)
	}
	if rep.Events == 0 || rep.HeapAfter == 0 {
		t.Errorf("got %d events and heap %v, want both measured", rep.Events, rep.HeapAfter)
	}
}

func TestMissing(t *testing.T) {
	ref := []uint64{3, 5, 8, 13, 21}
	tests := []struct {
		name       string
		got        []uint64
		start, end uint64
		last       uint64
		lost, late uint64
	}{
		{"all there", []uint64{3, 5, 8, 13, 21}, 0, 21, 21, 0, 0},
		{"before live ignored", []uint64{8, 13, 21}, 5, 21, 21, 0, 0},
		{"skipped is lost", []uint64{3, 8, 13, 21}, 0, 21, 21, 1, 0},
		{"beyond last is late", []uint64{3, 5, 8}, 0, 21, 9, 0, 2},
		{"beyond end ignored", []uint64{3, 5}, 0, 6, 6, 0, 0},
	}
	for _, tt := range tests {
		lost, late := missing(ref, tt.got, tt.start, tt.end, tt.last)
		if lost != tt.lost || late != tt.late {
			t.Errorf("%s: got lost %d late %d, want %d and %d", tt.name, lost, late, tt.lost, tt.late)
		}
	}
}

func TestLoopbackURL(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080", true},
		{"http://127.0.0.1:8080/", "http://127.0.0.1:8080", true},
		{"http://127.8.9.1:80", "http://127.8.9.1:80", true},
		{"https://localhost:8443", "https://127.0.0.1:8443", true},
		{"http://[::1]:8080", "http://[::1]:8080", true},
		{"http://10.0.0.5:8080", "", false},
		{"http://192.168.1.2", "", false},
		{"http://example.org:8080", "", false},
		{"http://localhost.example.org:8080", "", false},
		{"http://0.0.0.0:8080", "", false},
		{"ws://127.0.0.1:8080", "", false},
		{"http://127.0.0.1:8080/api", "", false},
		{"http://user@127.0.0.1:8080", "", false},
		{"127.0.0.1:8080", "", false},
	}
	for _, tt := range tests {
		got, err := LoopbackURL(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("LoopbackURL(%q): got %q, %v; want %q, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestRunLoadRefusesRemote(t *testing.T) {
	_, err := RunLoad(context.Background(), LoadOptions{BaseURL: "http://192.0.2.10:8080", AdminToken: "x",
		Issuer: CredentialsIssuer(&web.Credentials{}, time.Hour), Workers: 1, Coordinators: 1, Rate: 1, Duration: time.Second})
	if !errors.Is(err, ErrNotLoopback) {
		t.Fatalf("got %v, want ErrNotLoopback", err)
	}
}
