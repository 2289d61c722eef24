package dispatch_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/jjj-social-work/dispatch/dispatch/memstore"
	"github.com/jjj-social-work/dispatch/geo"
)

// fakeClock is a Clock that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2023, 7, 31, 8, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// rig is an engine on a memstore with a fake clock.
type rig struct {
	t     testing.TB
	ctx   context.Context
	e     *dispatch.Engine
	store *memstore.Store
	clock *fakeClock
	pol   dispatch.Policy
}

// testPolicy is the default policy with batching off, so that tests see
// single matching unless they ask for batches.
func testPolicy() dispatch.Policy {
	p := dispatch.DefaultPolicy()
	p.Batch.MinIncidents = 0
	return p
}

func newRig(t testing.TB, pol dispatch.Policy) *rig {
	t.Helper()
	r := &rig{t: t, ctx: context.Background(), store: memstore.New(), clock: newFakeClock(), pol: pol}
	r.restart()
	return r
}

// restart builds a new engine on the same store, as after a crash.
func (r *rig) restart() {
	r.t.Helper()
	e, err := dispatch.New(r.ctx, dispatch.Options{Store: r.store, Policy: &r.pol, Clock: r.clock})
	if err != nil {
		r.t.Fatalf("new engine: %v", err)
	}
	r.e = e
}

// Reference points (PRODUCT §10).
var (
	dongcheng = geo.Point{Lat: 39.904, Lng: 116.407}
	xicheng   = geo.Point{Lat: 39.912, Lng: 116.366}
	tongzhou  = geo.Point{Lat: 39.910, Lng: 116.657}
	tianjin   = geo.Point{Lat: 39.343, Lng: 117.362}
	wuqing    = geo.Point{Lat: 39.384, Lng: 117.044}
	zhuozhou  = geo.Point{Lat: 39.486, Lng: 115.974}
	langfang  = geo.Point{Lat: 39.538, Lng: 116.684}
	rongcheng = geo.Point{Lat: 39.050, Lng: 115.870}
)

// offset moves p by dnKm north and deKm east.
func offset(p geo.Point, dnKm, deKm float64) geo.Point {
	return geo.Point{Lat: p.Lat + dnKm/111.2, Lng: p.Lng + deKm/(111.2*0.766)}
}

type wopt struct {
	id, region, cert string
	skills           []string
	pos              geo.Point
	supervisor       bool
	offDuty          bool
}

// addWorkers upserts workers and puts them on duty unless offDuty.
func (r *rig) addWorkers(ws ...wopt) {
	r.t.Helper()
	in := make([]dispatch.WorkerInput, len(ws))
	for i, w := range ws {
		p := w.pos
		skills := w.skills
		if skills == nil {
			skills = []string{"crisis_intervention"}
		}
		in[i] = dispatch.WorkerInput{ID: w.id, Name: "worker " + w.id, Phone: "+86 138 0000 0000", HomeRegion: w.region,
			Cert: w.cert, Skills: skills, Supervisor: w.supervisor, Position: &p}
	}
	r.must(r.e.UpsertWorkers(r.ctx, in))
	for _, w := range ws {
		if !w.offDuty {
			r.must(r.e.SetDuty(r.ctx, w.id, true))
		}
	}
}

func (r *rig) must(err error) {
	r.t.Helper()
	if err != nil {
		r.t.Fatal(err)
	}
}

// incident creates an incident needing count crisis workers at p.
func (r *rig) incident(p geo.Point, sev dispatch.Severity, count int) dispatch.Incident {
	r.t.Helper()
	inc, err := r.e.CreateIncident(r.ctx, dispatch.IncidentInput{Type: "flood", Severity: sev, Position: p,
		Needs: []dispatch.NeedInput{{Skill: "crisis_intervention", Count: count}}})
	r.must(err)
	return inc
}

// slotAssignment returns the current assignment of an incident's slot.
func (r *rig) slotAssignment(incID string, slot int) (dispatch.Assignment, bool) {
	r.t.Helper()
	inc, err := r.e.Incident(incID)
	r.must(err)
	id := inc.Slots[slot].Assignment
	if id == "" {
		return dispatch.Assignment{}, false
	}
	a, err := r.e.Assignment(id)
	r.must(err)
	return a, true
}

// offeredTo returns the worker the slot is currently offered to, or "".
func (r *rig) offeredTo(incID string, slot int) string {
	r.t.Helper()
	a, ok := r.slotAssignment(incID, slot)
	if !ok || !a.State.Active() {
		return ""
	}
	return a.WorkerID
}

// events returns every event in the log.
func (r *rig) events() []dispatch.Event {
	r.t.Helper()
	evs, err := r.store.EventsAfter(r.ctx, 0, 0)
	r.must(err)
	return evs
}

// eventsOf returns the log's events of one type.
func (r *rig) eventsOf(typ string) []dispatch.Event {
	var out []dispatch.Event
	for _, ev := range r.events() {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

func decode[T any](t testing.TB, raw json.RawMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return v
}

// wantFieldErr checks that err is a *FieldError on field wrapping sentinel.
func wantFieldErr(t testing.TB, err error, field string, sentinel error) {
	t.Helper()
	var fe *dispatch.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("got %v, want a *FieldError on %s", err, field)
	}
	if fe.Field != field || !errors.Is(err, sentinel) {
		t.Fatalf("got field %q (%v), want field %q wrapping %v", fe.Field, err, field, sentinel)
	}
}

func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%03d", prefix, i)
	}
	return out
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// jsonEqual compares two values by their JSON.
func jsonEqual(t testing.TB, a, b any) bool {
	t.Helper()
	x, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if string(x) != string(y) {
		t.Logf("before: %s\nafter:  %s", x, y)
		return false
	}
	return true
}

func ignoreCanceled(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
