package dispatch_test

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/jjj-social-work/dispatch/geo"
)

func validIncident() dispatch.IncidentInput {
	return dispatch.IncidentInput{Type: "flood", Severity: dispatch.SeverityI, Position: zhuozhou,
		Needs: []dispatch.NeedInput{{Skill: "crisis_intervention", Count: 2, MinCert: "assistant"}}}
}

func TestCreateIncidentValidation(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(*dispatch.IncidentInput)
		field string
	}{
		{"no type", func(in *dispatch.IncidentInput) { in.Type = "" }, "type"},
		{"unknown type", func(in *dispatch.IncidentInput) { in.Type = "meteor" }, "type"},
		{"severity", func(in *dispatch.IncidentInput) { in.Severity = "V" }, "severity"},
		{"NaN lat", func(in *dispatch.IncidentInput) { in.Position.Lat = math.NaN() }, "position.lat"},
		{"lng out of range", func(in *dispatch.IncidentInput) { in.Position.Lng = 181 }, "position.lng"},
		{"outside every region", func(in *dispatch.IncidentInput) { in.Position = geo.Point{Lat: 31.2, Lng: 121.5} }, "position"},
		{"unknown region", func(in *dispatch.IncidentInput) { in.Region = "SH" }, "region"},
		{"no needs", func(in *dispatch.IncidentInput) { in.Needs = nil }, "needs"},
		{"unknown skill", func(in *dispatch.IncidentInput) { in.Needs[0].Skill = "juggling" }, "needs[0].skill"},
		{"zero count", func(in *dispatch.IncidentInput) { in.Needs[0].Count = 0 }, "needs[0].count"},
		{"huge count", func(in *dispatch.IncidentInput) { in.Needs[0].Count = 1 << 40 }, "needs[0].count"},
		{"unknown cert", func(in *dispatch.IncidentInput) { in.Needs[0].MinCert = "guru" }, "needs[0].min_cert"},
		{"second need", func(in *dispatch.IncidentInput) {
			in.Needs = append(in.Needs, dispatch.NeedInput{Count: 1})
		}, "needs[1].skill"},
		{"long notes", func(in *dispatch.IncidentInput) { in.Notes = strings.Repeat("水", 2000) }, "notes"},
		{"bad utf-8", func(in *dispatch.IncidentInput) { in.Notes = "\xff" }, "notes"},
	}
	r := newRig(t, testPolicy())
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := validIncident()
			tc.edit(&in)
			seq := r.e.LastSeq()
			_, err := r.e.CreateIncident(r.ctx, in)
			wantFieldErr(t, err, tc.field, dispatch.ErrInvalid)
			if r.e.LastSeq() != seq {
				t.Fatalf("a refused incident wrote events")
			}
		})
	}
	inc, err := r.e.CreateIncident(r.ctx, validIncident())
	r.must(err)
	if inc.Region != "HE" || len(inc.Slots) != 2 || inc.Status != dispatch.IncidentOpen {
		t.Fatalf("got %+v, want an open HE incident with 2 slots", inc)
	}
}

func TestUpsertWorkersAllOrNothing(t *testing.T) {
	good := func(id string) dispatch.WorkerInput {
		return dispatch.WorkerInput{ID: id, Name: "张三", HomeRegion: "BJ", Cert: "intermediate", Skills: []string{"elderly_care"}}
	}
	cases := []struct {
		name  string
		edit  func(*dispatch.WorkerInput)
		field string
	}{
		{"no id", func(w *dispatch.WorkerInput) { w.ID = "" }, "id"},
		{"bad id", func(w *dispatch.WorkerInput) { w.ID = "a b" }, "id"},
		{"no name", func(w *dispatch.WorkerInput) { w.Name = "" }, "name"},
		{"phone", func(w *dispatch.WorkerInput) { w.Phone = "call me" }, "phone"},
		{"region", func(w *dispatch.WorkerInput) { w.HomeRegion = "XX" }, "home_region"},
		{"cert", func(w *dispatch.WorkerInput) { w.Cert = "phd" }, "cert"},
		{"skill", func(w *dispatch.WorkerInput) { w.Skills = []string{"elderly_care", "flying"} }, "skills[1]"},
		{"dup skill", func(w *dispatch.WorkerInput) { w.Skills = []string{"elderly_care", "elderly_care"} }, "skills[1]"},
		{"position", func(w *dispatch.WorkerInput) { w.Position = &geo.Point{Lat: 91} }, "position.lat"},
		{"dup id", func(w *dispatch.WorkerInput) { w.ID = "ok0" }, "id"},
	}
	r := newRig(t, testPolicy())
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bad := good("bad")
			tc.edit(&bad)
			seq := r.e.LastSeq()
			err := r.e.UpsertWorkers(r.ctx, []dispatch.WorkerInput{good("ok0"), good("ok1"), bad})
			var ie *dispatch.ItemError
			if !errors.As(err, &ie) || ie.Index != 2 {
				t.Fatalf("got %v, want an ItemError at index 2", err)
			}
			wantFieldErr(t, err, tc.field, dispatch.ErrInvalid)
			if _, err := r.e.Worker("ok0"); !errors.Is(err, dispatch.ErrNotFound) || r.e.LastSeq() != seq {
				t.Fatalf("got worker ok0 (%v) after a refused import, want nothing written", err)
			}
		})
	}
}

func TestEventsCarryNoPhone(t *testing.T) {
	r := newRig(t, testPolicy())
	r.addWorkers(wopt{id: "w", region: "BJ", pos: dongcheng})
	r.incident(dongcheng, dispatch.SeverityII, 1)
	for _, ev := range r.events() {
		if strings.Contains(string(ev.Data), "138 0000") || strings.Contains(string(ev.Data), "phone") {
			t.Fatalf("event %s carries the phone: %s", ev.Type, ev.Data)
		}
	}
	w, _ := r.e.Worker("w")
	if w.Phone == "" {
		t.Fatalf("got no phone in the worker record, want it kept there")
	}
}

// FuzzCreateIncident feeds arbitrary JSON to intake: the engine never
// panics and either accepts it or names a field.
func FuzzCreateIncident(f *testing.F) {
	seed, _ := json.Marshal(validIncident())
	f.Add(seed)
	f.Add([]byte(`{"type":"fire","severity":"IV","position":{"lat":39.9,"lng":116.4},"needs":[{"skill":"grief_support","count":1}],"needs_supervisor":true}`))
	f.Add([]byte(`{"type":"flood","severity":"I","position":{"lat":1e308,"lng":-1e308},"region":"HE","needs":[{"count":-1}]}`))
	f.Add([]byte(`{"type":"other","severity":"II","position":{"lat":39.05,"lng":115.87},"needs":[{"supervisor":true,"count":3,"min_cert":"senior"}]}`))
	r := newRig(f, testPolicy())
	r.addWorkers(wopt{id: "w1", region: "HE", pos: zhuozhou}, wopt{id: "w2", region: "BJ", pos: dongcheng, supervisor: true})
	f.Fuzz(func(t *testing.T, data []byte) {
		var in dispatch.IncidentInput
		if json.Unmarshal(data, &in) != nil {
			return // malformed JSON is the server's to refuse
		}
		seq := r.e.LastSeq()
		inc, err := r.e.CreateIncident(r.ctx, in)
		if err == nil {
			if inc.ID == "" || len(inc.Slots) == 0 {
				t.Fatalf("got %+v, want an incident with slots", inc)
			}
			if err := r.e.CancelIncident(r.ctx, dispatch.IncidentAction{IncidentID: inc.ID, By: "fuzz"}); err != nil {
				t.Fatal(err)
			}
			return
		}
		var fe *dispatch.FieldError
		if !errors.As(err, &fe) || !errors.Is(err, dispatch.ErrInvalid) || fe.Field == "" {
			t.Fatalf("got %v, want a *FieldError wrapping ErrInvalid", err)
		}
		if r.e.LastSeq() != seq {
			t.Fatalf("refused input wrote events")
		}
	})
}

// FuzzUpsertWorkers feeds arbitrary JSON roster imports.
func FuzzUpsertWorkers(f *testing.F) {
	f.Add([]byte(`[{"id":"a1","name":"王","home_region":"TJ","cert":"senior","skills":["child_protection"],"position":{"lat":39.3,"lng":117.3}}]`))
	f.Add([]byte(`[{"id":"a1","name":"x","home_region":"TJ","skills":[]},{"id":"a1","name":"y","home_region":"BJ","skills":[]}]`))
	f.Add([]byte(`[{"id":"","phone":"+86"}]`))
	r := newRig(f, testPolicy())
	f.Fuzz(func(t *testing.T, data []byte) {
		var in []dispatch.WorkerInput
		if json.Unmarshal(data, &in) != nil {
			return
		}
		seq := r.e.LastSeq()
		err := r.e.UpsertWorkers(r.ctx, in)
		if err == nil {
			return
		}
		var ie *dispatch.ItemError
		var fe *dispatch.FieldError
		if !errors.As(err, &fe) || !errors.Is(err, dispatch.ErrInvalid) || (!errors.As(err, &ie) && fe.Field != "workers") {
			t.Fatalf("got %v, want an ItemError with a FieldError", err)
		}
		if r.e.LastSeq() != seq {
			t.Fatalf("refused import wrote events")
		}
	})
}
