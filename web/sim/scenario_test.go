package sim

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// minimalScenario is the smallest valid file; cases edit it.
const minimalScenario = `{
  "name": "t", "duration": "1h",
  "team": {"size": 10, "regions": [{"code": "HE", "share": 1, "places": [{"name": "p", "lat": 39, "lng": 116, "weight": 1}]}]},
  "coordinators": [{"name": "desk"}],
  "incidents": {
    "waves": [{"name": "w", "start": "0s", "end": "1h", "per_hour": [1, 2], "places": [{"name": "p", "lat": 39, "lng": 116, "weight": 1}]}],
    "kinds": [{"type": "flood", "weight": 1, "severity": {"II": 1}, "needs": [{"skill": "crisis_intervention", "count": [1, 2]}]}]
  }
}`

// edit applies JSON edits to minimalScenario: each pair sets the value at
// a dotted path (numbers index arrays).
func edit(t testing.TB, pathValues ...any) []byte {
	t.Helper()
	var m any
	if err := json.Unmarshal([]byte(minimalScenario), &m); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(pathValues); i += 2 {
		set(t, m, pathValues[i].(string), pathValues[i+1])
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func set(t testing.TB, m any, path string, value any) {
	keys := strings.Split(path, ".")
	cur := m
	for i, k := range keys {
		last := i == len(keys)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				c[k] = value
			} else {
				cur = c[k]
			}
		case []any:
			var idx int
			if err := json.Unmarshal([]byte(k), &idx); err != nil {
				t.Fatalf("path %s: %v", path, err)
			}
			if last {
				c[idx] = value
			} else {
				cur = c[idx]
			}
		}
	}
}

func TestDecodeScenario(t *testing.T) {
	tests := []struct {
		name  string
		input []byte
		field string // "" with msg "" means valid
		msg   string
	}{
		{"minimal", []byte(minimalScenario), "", ""},
		{"empty", []byte("  "), "", "empty file"},
		{"not an object", []byte(`[1]`), "", "want a JSON object"},
		{"syntax", []byte("{\n \"name\": }"), "", "line 2, column 10"},
		{"truncated", []byte(`{"name": "x"`), "", "truncated"},
		{"trailing", []byte(minimalScenario + " {}"), "", "after the JSON object"},
		{"unknown top field", edit(t, "colour", "red"), "colour", "unknown field"},
		{"unknown nested field", edit(t, "team.regions.0.places.0.height", 3), "team.regions[0].places[0].height", "unknown field"},
		{"wrong case", edit(t, "team.regions.0.Code", "HE"), "team.regions[0].Code", "unknown field"},
		{"wrong type", edit(t, "team.size", "ten"), "team.size", "want a number"},
		{"fraction for int", edit(t, "team.size", 1.5), "team.size", "whole number"},
		{"negative seed", edit(t, "seed", -1), "seed", "non-negative"},
		{"bad duration", edit(t, "duration", "soon"), "duration", "duration"},
		{"duration as number", edit(t, "duration", 3600), "duration", "duration"},
		{"short array", edit(t, "incidents.waves.0.per_hour", []any{1}), "incidents.waves[0].per_hour", "2 values"},
		{"zero duration", edit(t, "duration", "0s"), "duration", "more than 0"},
		{"team too large", edit(t, "team.size", 1e6), "team.size", "want 1 to"},
		{"unknown region", edit(t, "team.regions.0.code", "SH"), "team.regions[0].code", "unknown region"},
		{"bad latitude", edit(t, "team.regions.0.places.0.lat", 91), "team.regions[0].places[0].lat", "latitude"},
		{"zero weight", edit(t, "team.regions.0.places.0.weight", 0), "team.regions[0].places[0].weight", "positive"},
		{"on duty above 1", edit(t, "team.on_duty", 1.5), "team.on_duty", "share"},
		{"unknown skill odds", edit(t, "team.skills", map[string]any{"juggling": 0.5}), "team.skills.juggling", "unknown skill"},
		{"unknown cert", edit(t, "team.certs", map[string]any{"master": 1}), "team.certs.master", "unknown key"},
		{"accept plus decline", edit(t, "behaviour", map[string]any{"accept": 0.8, "decline": 0.5}), "behaviour.decline", "1 - accept"},
		{"span reversed", edit(t, "behaviour", map[string]any{"answer_after": map[string]any{"min": "1m", "max": "1s"}}), "behaviour.answer_after", "min <= max"},
		{"no coordinators", edit(t, "coordinators", []any{}), "coordinators", "1 to"},
		{"no logging desk", edit(t, "coordinators", []any{map[string]any{"name": "bj", "regions": []any{"BJ"}}}), "incidents.waves[0].places[0].region", "no coordinator"},
		{"wave past end", edit(t, "incidents.waves.0.end", "2h"), "incidents.waves[0].end", "duration"},
		{"rates zero", edit(t, "incidents.waves.0.per_hour", []any{0, 0}), "incidents.waves[0].per_hour", "positive"},
		{"too many incidents", edit(t, "duration", "20h", "incidents.waves.0.end", "20h", "incidents.waves.0.per_hour", []any{100000, 100000}), "incidents.waves", "expected"},
		{"unknown type", edit(t, "incidents.kinds.0.type", "storm"), "incidents.kinds[0].type", "unknown type"},
		{"unknown severity", edit(t, "incidents.kinds.0.severity", map[string]any{"V": 1}), "incidents.kinds[0].severity.V", "unknown key"},
		{"unknown need skill", edit(t, "incidents.kinds.0.needs.0.skill", "juggling"), "incidents.kinds[0].needs[0].skill", "unknown skill"},
		{"count reversed", edit(t, "incidents.kinds.0.needs.0.count", []any{3, 1}), "incidents.kinds[0].needs[0].count", "min <= max"},
		{"bad min cert", edit(t, "incidents.kinds.0.needs.0.min_cert", "master"), "incidents.kinds[0].needs[0].min_cert", "certification"},
		{"no needs", edit(t, "incidents.kinds.0.needs", []any{}), "incidents.kinds[0].needs", "at least one need"},
		{"null keeps default", edit(t, "speed", nil), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, err := DecodeScenario(tt.input)
			if tt.msg == "" {
				if err != nil {
					t.Fatalf("got error %v, want none", err)
				}
				if sc.Speed != 1 || sc.Behaviour.Accept != 0.75 || len(sc.Team.Certs) == 0 {
					t.Errorf("got speed %v, accept %v, certs %v: want the defaults", sc.Speed, sc.Behaviour.Accept, sc.Team.Certs)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("got %v, want a *FieldError", err)
			}
			if fe.Field != tt.field || !strings.Contains(fe.Msg, tt.msg) {
				t.Errorf("got field %q msg %q, want field %q msg containing %q", fe.Field, fe.Msg, tt.field, tt.msg)
			}
		})
	}
}

// TestShippedScenarios decodes every file in configs/scenarios.
func TestShippedScenarios(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "configs", "scenarios", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("got %d scenario files (%v), want some", len(files), err)
	}
	for _, f := range files {
		if _, err := LoadScenarioFile(f); err != nil {
			t.Errorf("got %v, want %s to load", err, f)
		}
	}
}

func FuzzDecodeScenario(f *testing.F) {
	f.Add([]byte(minimalScenario))
	if b, err := os.ReadFile(filepath.Join("..", "..", "configs", "scenarios", "haihe-flood.json")); err == nil {
		f.Add(b)
	}
	for _, s := range []string{`{}`, `{"team":{"size":1e400}}`, `{"duration":"-1h"}`, `{"team":{"regions":[{"places":[{}]}]}}`, "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sc, err := DecodeScenario(b)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("got %T %v, want a *FieldError", err, err)
			}
			return
		}
		// A scenario that decodes must validate and generate without panics
		// within its bounds; generation is skipped for large ones to keep
		// the fuzzer fast.
		if err := sc.Validate(nil); err != nil {
			t.Fatalf("decoded scenario fails validation: %v", err)
		}
		if sc.Team.Size <= 2000 {
			if got := len(GenerateTeam(sc)); got != sc.Team.Size {
				t.Fatalf("got %d members, want %d", got, sc.Team.Size)
			}
		}
	})
}

func haihe(t testing.TB) *Scenario {
	t.Helper()
	sc, err := LoadScenarioFile(filepath.Join("..", "..", "configs", "scenarios", "haihe-flood.json"))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func TestGenerateTeamProportions(t *testing.T) {
	sc := haihe(t)
	sc.Team.Size = 5000
	team := GenerateTeam(sc)
	counts := map[string]int{}
	ids := map[string]bool{}
	for _, m := range team {
		counts[m.Worker.HomeRegion]++
		if ids[m.Worker.ID] {
			t.Fatalf("got duplicate id %s", m.Worker.ID)
		}
		ids[m.Worker.ID] = true
		if len(m.Worker.Skills) == 0 {
			t.Fatalf("got member %s without skills", m.Worker.ID)
		}
	}
	// PRODUCT §1: 26,800 : 15,800 : 5,000.
	want := map[string]float64{"BJ": 26800.0 / 47600, "TJ": 15800.0 / 47600, "HE": 5000.0 / 47600}
	for reg, share := range want {
		got := float64(counts[reg]) / float64(len(team))
		if got < share-0.01 || got > share+0.01 {
			t.Errorf("region %s: got share %.3f, want %.3f ± 0.01", reg, got, share)
		}
	}
	if !(counts["BJ"] > counts["TJ"] && counts["TJ"] > counts["HE"]) {
		t.Errorf("got counts %v, want BJ > TJ > HE", counts)
	}
}

func TestGenerationDeterministic(t *testing.T) {
	a, b := haihe(t), haihe(t)
	if !reflect.DeepEqual(GenerateTeam(a), GenerateTeam(b)) {
		t.Error("got different teams for the same seed, want the same")
	}
	if !reflect.DeepEqual(Schedule(a), Schedule(b)) {
		t.Error("got different schedules for the same seed, want the same")
	}
	b.Seed++
	if reflect.DeepEqual(GenerateTeam(a), GenerateTeam(b)) {
		t.Error("got the same team for another seed, want a different one")
	}
}

func TestScheduleRises(t *testing.T) {
	sc := haihe(t)
	plan := Schedule(sc)
	if len(plan) < 100 {
		t.Fatalf("got %d incidents, want a flood night's worth (>= 100)", len(plan))
	}
	half := sc.Duration.D() / 2
	early, late := 0, 0
	for i, p := range plan {
		if i > 0 && p.At < plan[i-1].At {
			t.Fatalf("got incident %d at %v before %v, want time order", i, p.At, plan[i-1].At)
		}
		if p.At < half {
			early++
		} else {
			late++
		}
		if len(p.Input.Needs) == 0 && !p.Input.NeedsSupervisor {
			t.Fatalf("got incident %d without needs", i)
		}
	}
	if late <= early {
		t.Errorf("got %d incidents in the first half and %d in the second, want rising", early, late)
	}
}

func TestApportion(t *testing.T) {
	tests := []struct {
		total int
		w     []float64
		want  []int
	}{
		{10, []float64{1, 1}, []int{5, 5}},
		{600, []float64{26800, 15800, 5000}, []int{338, 199, 63}},
		{1, []float64{1, 1, 1}, []int{1, 0, 0}},
	}
	for _, tt := range tests {
		if got := apportion(tt.total, tt.w); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("apportion(%d, %v): got %v, want %v", tt.total, tt.w, got, tt.want)
		}
	}
}
