package dispatch_test

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/jjj-social-work/dispatch/geo"
)

func TestDefaultPolicyFileMatches(t *testing.T) {
	raw, err := os.ReadFile("../configs/policy.json")
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var got dispatch.Policy
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("decode configs/policy.json: %v", err)
	}
	if err := got.Validate(); err != nil {
		t.Fatal(err)
	}
	if want := dispatch.DefaultPolicy(); !reflect.DeepEqual(got, want) {
		t.Fatalf("configs/policy.json differs from DefaultPolicy()")
	}
}

func TestPolicyValidateNamesField(t *testing.T) {
	cases := []struct {
		field string
		edit  func(*dispatch.Policy)
	}{
		{"skills", func(p *dispatch.Policy) { p.Skills = nil }},
		{"skills[1]", func(p *dispatch.Policy) { p.Skills[1] = "Elderly Care" }},
		{"skills[2]", func(p *dispatch.Policy) { p.Skills[2] = p.Skills[0] }},
		{"regions[1].code", func(p *dispatch.Policy) { p.Regions[1].Code = "BJ" }},
		{"regions[0].points[0]", func(p *dispatch.Policy) { p.Regions[0].Points[0].Lat = 100 }},
		{"zones[0].region", func(p *dispatch.Policy) { p.Zones[0].Region = "XA" }},
		{"rest.max_duty", func(p *dispatch.Policy) { p.Rest.MaxDuty = dispatch.Duration(25 * time.Hour) }},
		{"offers.timeout.I", func(p *dispatch.Policy) { p.Offers.Timeout.I = 0 }},
		{"offers.max_misses", func(p *dispatch.Policy) { p.Offers.MaxMisses = 0 }},
		{"cost.severity_weight.III", func(p *dispatch.Policy) { p.Cost.SeverityWeight.III = -1 }},
		{"travel.road_factor", func(p *dispatch.Policy) { p.Travel.RoadFactor = 0.5 }},
		{"batch.min_incidents", func(p *dispatch.Policy) { p.Batch.MinIncidents = 1 }},
		{"mutual_aid", func(p *dispatch.Policy) { p.MutualAid = "sometimes" }},
	}
	for _, tc := range cases {
		t.Run(tc.field, func(t *testing.T) {
			p := dispatch.DefaultPolicy()
			tc.edit(&p)
			wantFieldErr(t, p.Validate(), tc.field, dispatch.ErrInvalid)
		})
	}
}

func TestDurationJSON(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{{12 * time.Hour, `"12h"`}, {90 * time.Second, `"1m30s"`}, {2 * time.Minute, `"2m"`}, {time.Hour + time.Second, `"1h0m1s"`}} {
		b, err := json.Marshal(dispatch.Duration(tc.d))
		if err != nil || string(b) != tc.want {
			t.Fatalf("marshal %v: got %s (%v), want %s", tc.d, b, err, tc.want)
		}
		var back dispatch.Duration
		if err := json.Unmarshal(b, &back); err != nil || back.D() != tc.d {
			t.Fatalf("unmarshal %s: got %v (%v), want %v", b, back.D(), err, tc.d)
		}
	}
	var d dispatch.Duration
	if json.Unmarshal([]byte(`90`), &d) == nil || json.Unmarshal([]byte(`"soon"`), &d) == nil {
		t.Fatalf("got no error for a number or a bad string, want one")
	}
}

func TestLocate(t *testing.T) {
	p := dispatch.DefaultPolicy()
	cases := []struct {
		name  string
		pt    geo.Point
		want  dispatch.Place
		found bool
	}{
		{"Dongcheng", dongcheng, dispatch.Place{Region: "BJ"}, true},
		{"Tongzhou", tongzhou, dispatch.Place{Region: "BJ"}, true},
		{"Tianjin", tianjin, dispatch.Place{Region: "TJ"}, true},
		{"Wuqing", wuqing, dispatch.Place{Region: "TJ"}, true},
		{"Jinnan", geo.Point{Lat: 38.938, Lng: 117.357}, dispatch.Place{Region: "TJ"}, true},
		{"Zhuozhou", zhuozhou, dispatch.Place{Region: "HE"}, true},
		{"Langfang", langfang, dispatch.Place{Region: "HE"}, true},
		{"Baoding", geo.Point{Lat: 38.883, Lng: 115.500}, dispatch.Place{Region: "HE"}, true},
		{"Shijiazhuang", geo.Point{Lat: 38.043, Lng: 114.515}, dispatch.Place{Region: "HE"}, true},
		{"Rongcheng", rongcheng, dispatch.Place{Region: "HE", Zone: "xiongan", Pilot: true}, true},
		{"Anxin", geo.Point{Lat: 38.930, Lng: 115.930}, dispatch.Place{Region: "HE", Zone: "xiongan", Pilot: true}, true},
		{"Chengde", geo.Point{Lat: 40.951, Lng: 117.963}, dispatch.Place{Region: "HE"}, true},
		{"Shanghai", geo.Point{Lat: 31.23, Lng: 121.47}, dispatch.Place{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := p.Locate(tc.pt)
			if got != tc.want || ok != tc.found {
				t.Fatalf("got %+v %v, want %+v %v", got, ok, tc.want, tc.found)
			}
		})
	}
}
