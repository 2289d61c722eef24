package web

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/jjj-social-work/dispatch/dispatch/memstore"
	"github.com/jjj-social-work/dispatch/geo"
)

// Reference places (PRODUCT §10).
var (
	baoding  = geo.Point{Lat: 38.883, Lng: 115.500}
	xicheng  = geo.Point{Lat: 39.912, Lng: 116.366}
	tianjin  = geo.Point{Lat: 39.343, Lng: 117.362}
	rongchen = geo.Point{Lat: 39.050, Lng: 115.870}
)

// apiFixture is a server over a real engine on the in-memory store, with
// workers W1 (Hebei, Baoding), W2 (Beijing) and W3 (Tianjin) on duty.
type apiFixture struct {
	*fixture
	eng   *dispatch.Engine
	store *memstore.Store
}

func newAPIFixture(t testing.TB, limits StreamLimits) *apiFixture {
	return newAPIFixtureOpts(t, fixtureOptions{limits: limits})
}

func newAPIFixtureOpts(t testing.TB, fo fixtureOptions) *apiFixture {
	t.Helper()
	store := memstore.New()
	ctx, cancel := context.WithCancel(context.Background())
	eng, err := dispatch.New(ctx, dispatch.Options{Store: store, Logger: loggerFor(t, fo.quiet)})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = eng.Run(ctx) }()
	at := func(p geo.Point) *geo.Point { return &p }
	skills := []string{"crisis_intervention", "elderly_care"}
	err = eng.UpsertWorkers(ctx, []dispatch.WorkerInput{
		{ID: "W1", Name: "李娜", Phone: "13800000001", HomeRegion: "HE", Cert: "intermediate", Skills: skills, Position: at(baoding)},
		{ID: "W2", Name: "王强", Phone: "13800000002", HomeRegion: "BJ", Cert: "intermediate", Skills: skills, Position: at(xicheng)},
		{ID: "W3", Name: "张伟", Phone: "13800000003", HomeRegion: "TJ", Cert: "intermediate", Skills: skills, Position: at(tianjin)},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"W1", "W2", "W3"} {
		if err := eng.SetDuty(ctx, id, true); err != nil {
			t.Fatal(err)
		}
	}
	fo.engine, fo.events, fo.start = eng, store, eng.LastSeq()
	f := newFixture(t, fo)
	t.Cleanup(func() { // after the server's cleanup (LIFO)
		cancel()
		<-done
		store.Close()
	})
	return &apiFixture{fixture: f, eng: eng, store: store}
}

// createIncident logs an incident in Hebei near Baoding directly on the
// engine; W1 is the nearest qualified worker and gets the offer.
func (f *apiFixture) createIncident(t testing.TB, at geo.Point) (dispatch.Incident, dispatch.Assignment) {
	t.Helper()
	inc := f.logIncident(t, at)
	as, err := f.eng.IncidentAssignments(inc.ID)
	if err != nil || len(as) != 1 {
		b, _ := json.Marshal(inc)
		t.Fatalf("incident %s: got %d assignments, %v, want 1", b, len(as), err)
	}
	return inc, as[0]
}

// logIncident logs an incident without waiting for offers (a second
// incident inside the batch window is queued for a joint match).
func (f *apiFixture) logIncident(t testing.TB, at geo.Point) dispatch.Incident {
	t.Helper()
	inc, err := f.eng.CreateIncident(context.Background(), dispatch.IncidentInput{
		Type: "flood", Severity: dispatch.SeverityII, Position: at,
		Needs: []dispatch.NeedInput{{Skill: "crisis_intervention", Count: 1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return inc
}

func decode[T any](t testing.TB, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

func (f *apiFixture) waitSeq(t testing.TB) {
	t.Helper()
	seq := f.eng.LastSeq()
	waitFor(t, "hub caught up", func() bool { return f.srv.hub.Head() >= seq })
}

var _ = time.Second
