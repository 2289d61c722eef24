package sim

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/jjj-social-work/dispatch/web/sim/simtest"
)

// testScenario is a small, fast flood at Zhuozhou: 30 workers split like
// the shared team (so Hebei has only 3), every one with crisis
// intervention, incidents rising over 30 scenario minutes at 600×.
const testScenario = `{
  "name": "test-flood", "seed": 7, "duration": "30m", "speed": 600,
  "team": {"size": 30, "on_duty": 0.9, "supervisors": 0.2,
    "skills": {"crisis_intervention": 1, "elderly_care": 0.5},
    "regions": [
      {"code": "BJ", "share": 26800, "places": [{"name": "Fangshan", "lat": 39.735, "lng": 116.143, "weight": 1, "spread_km": 5}]},
      {"code": "TJ", "share": 15800, "places": [{"name": "Wuqing", "lat": 39.384, "lng": 117.044, "weight": 1, "spread_km": 5}]},
      {"code": "HE", "share": 5000, "places": [{"name": "Zhuozhou", "lat": 39.486, "lng": 115.974, "weight": 1, "spread_km": 3}]}
    ]},
  "behaviour": {"accept": 0.6, "decline": 0.3,
    "answer_after": {"min": "0s", "max": "5s"}, "en_route_after": {"min": "0s", "max": "10s"},
    "travel_kmh": 300, "on_scene_for": {"min": "10s", "max": "1m"},
    "move_every": "1m", "walk_m": 100, "duty_every": "20m"},
  "coordinators": [{"name": "joint desk"}, {"name": "Hebei desk", "regions": ["HE"]}],
  "incidents": {"close_when_done": true,
    "waves": [{"name": "Juma", "start": "0s", "end": "30m", "per_hour": [40, 120],
      "places": [{"name": "Zhuozhou", "lat": 39.486, "lng": 115.974, "weight": 1, "spread_km": 3, "region": "HE"}]}],
    "kinds": [{"type": "flood", "weight": 1, "severity": {"II": 1, "III": 1}, "supervisor": 0.1,
      "needs": [{"skill": "crisis_intervention", "count": [1, 2]}]}]}
}`

// fastPolicy lets ignored offers expire within a second, so a short run
// sees the whole cycle.
func fastPolicy() *dispatch.Policy {
	p := dispatch.DefaultPolicy()
	sec := dispatch.Duration(time.Second)
	p.Offers.Timeout = dispatch.PerSeverity[dispatch.Duration]{I: sec, II: sec, III: sec, IV: sec}
	p.Offers.RetryInterval = dispatch.Duration(200 * time.Millisecond)
	p.Batch.Window = dispatch.Duration(200 * time.Millisecond)
	return &p
}

func TestSimulationRun(t *testing.T) {
	sc, err := DecodeScenario([]byte(testScenario))
	if err != nil {
		t.Fatal(err)
	}
	srv := simtest.Start(t, simtest.Options{Policy: fastPolicy()})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Start(ctx, Options{BaseURL: srv.URL, AdminToken: srv.AdminToken, Scenario: sc,
		Issuer: CredentialsIssuer(srv.Creds, time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	done := func(st Stats) bool {
		return st.Accepted >= 15 && st.Declined >= 3 && st.Ignored >= 1 && st.MutualAid >= 1 &&
			st.IncidentsStaffed >= 5 && st.IncidentsClosed >= 1
	}
	deadline := time.Now().Add(20 * time.Second)
	for !done(s.Stats()) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := s.Wait(); err != nil {
		t.Fatalf("simulation stopped with %v", err)
	}
	st := s.Stats()
	b, _ := json.Marshal(st)
	t.Logf("stats: %s", b)
	if !done(st) {
		t.Fatalf("got %+v, want >= 15 accepted, 3 declined, 1 ignored, 1 mutual aid, 5 staffed, 1 closed", st)
	}
	if st.Accepted <= st.Declined {
		t.Errorf("got %d accepted and %d declined, want more accepted (0.6 against 0.3)", st.Accepted, st.Declined)
	}
	if st.Lost != 0 || st.Duplicated != 0 || st.Resets != 0 {
		t.Errorf("got lost %d, duplicated %d, resets %d: want none", st.Lost, st.Duplicated, st.Resets)
	}
	if st.Workers != 30 || st.Coordinators != 2 {
		t.Errorf("got %d workers and %d desks, want 30 and 2", st.Workers, st.Coordinators)
	}
}

func TestDecideFollowsProbabilities(t *testing.T) {
	b := Behaviour{Accept: 0.6, Decline: 0.3}
	r := newRand(1, 2)
	const n = 20000
	got := map[string]int{}
	for range n {
		got[decide(r.Float64(), b)]++
	}
	for d, want := range map[string]float64{decideAccept: 0.6, decideDecline: 0.3, decideIgnore: 0.1} {
		if share := float64(got[d]) / n; share < want-0.015 || share > want+0.015 {
			t.Errorf("%s: got share %.3f, want %.2f ± 0.015", d, share, want)
		}
	}
}
