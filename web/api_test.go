package web

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/jjj-social-work/dispatch/geo"
)

// An incident logged over HTTP reaches a coordinator's stream and the
// chosen worker's; the worker accepts over its own socket and everyone
// sees it.
func TestIncidentFlowsToCoordinatorAndWorker(t *testing.T) {
	f := newAPIFixture(t, StreamLimits{})
	coord := f.mustDial(credCoord, "")
	readUntilLive(t, coord)
	heDesk := f.mustDial(credCoordHE, "")
	readUntilLive(t, heDesk)
	worker := f.mustDial(credWorker, "")
	readUntilLive(t, worker)
	other := f.mustDial(credOtherWorker, "")
	readUntilLive(t, other)

	code, body := f.do("POST", "/api/v1/incidents", credCoordHE, "application/json",
		`{"type":"flood","severity":"II","position":{"lat":38.88,"lng":115.5},"needs":[{"skill":"crisis_intervention","count":1}],"notes":"涿州 water rising"}`)
	if code != http.StatusCreated {
		t.Fatalf("create: got %d %s, want 201", code, body)
	}
	inc := decode[dispatch.Incident](t, body)
	if inc.Region != "HE" || inc.CreatedBy != "Hebei desk" {
		t.Fatalf("got region %q by %q, want HE by Hebei desk", inc.Region, inc.CreatedBy)
	}

	offer := waitEvent(t, worker, "assignment.offered")
	if offer.WorkerID != "W1" || offer.IncidentID != inc.ID {
		t.Fatalf("worker got offer %+v, want W1 for %s", offer, inc.ID)
	}
	for _, c := range []*websocket.Conn{coord, heDesk} {
		if ev := waitEvent(t, c, "assignment.offered"); ev.AssignmentID != offer.AssignmentID {
			t.Fatalf("coordinator got %+v, want the offer %s", ev, offer.AssignmentID)
		}
	}

	// Accept over the socket, twice with the same id: one change, same ack.
	msg := fmt.Sprintf(`{"type":"answer","id":"c-1","assignment_id":%q,"accept":true}`, offer.AssignmentID)
	for range 2 {
		if err := worker.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	var acks int
	var accepted []dispatch.Event
	for acks < 2 || len(accepted) < 1 {
		m := readMsg(t, worker)
		switch {
		case m.Type == "ack" && m.ID == "c-1":
			acks++
		case m.Type == "event" && m.Event.Type == "assignment.accepted":
			accepted = append(accepted, *m.Event)
		case m.Type == "error":
			t.Fatalf("got error frame %+v", m.Error)
		}
	}
	if ev := waitEvent(t, coord, "assignment.accepted"); ev.AssignmentID != offer.AssignmentID {
		t.Fatalf("coordinator: got %+v, want accepted %s", ev, offer.AssignmentID)
	}
	// A second accept with a new id is an impossible transition.
	_ = worker.WriteMessage(websocket.TextMessage, []byte(strings.Replace(msg, "c-1", "c-2", 1)))
	for {
		m := readMsg(t, worker)
		if m.Type == "error" && m.ID == "c-2" {
			if m.Error.Code != dispatch.CodeInvalidTransition {
				t.Fatalf("second accept: got %+v, want invalid_transition", m.Error)
			}
			break
		}
	}
	// The other worker saw none of it.
	if m, err := tryRead(other, 100*time.Millisecond); err == nil {
		t.Fatalf("other worker got %+v, want nothing", m)
	}
	a, err := f.eng.Assignment(offer.AssignmentID)
	if err != nil || a.State != dispatch.StateAccepted {
		t.Fatalf("got %v %v, want accepted", a.State, err)
	}
}

func waitEvent(t *testing.T, c *websocket.Conn, typ string) dispatch.Event {
	t.Helper()
	for {
		m := readMsg(t, c)
		if m.Type == "event" && m.Event.Type == typ {
			return *m.Event
		}
	}
}

// Worker messages over the socket reach the engine.
func TestWorkerSocketMessages(t *testing.T) {
	f := newAPIFixture(t, StreamLimits{})
	c := f.mustDial(credWorker, "")
	readUntilLive(t, c)
	send := func(msg string) wireMsg {
		t.Helper()
		if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		for {
			m := readMsg(t, c)
			if m.Type == "ack" || m.Type == "error" {
				return m
			}
		}
	}
	if m := send(`{"type":"position","id":"p1","lat":38.9,"lng":115.6,"accuracy_m":8}`); m.Type != "ack" {
		t.Fatalf("position: got %+v", m)
	}
	w, _ := f.eng.Worker("W1")
	if w.Position == nil || w.Position.Lng != 115.6 {
		t.Fatalf("got position %+v, want 38.9,115.6", w.Position)
	}
	if m := send(`{"type":"duty","id":"d1","on_duty":false}`); m.Type != "ack" {
		t.Fatalf("duty: got %+v", m)
	}
	if w, _ := f.eng.Worker("W1"); w.OnDuty {
		t.Fatal("still on duty")
	}
	m := send(`{"type":"status","id":"s1","assignment_id":"nope","status":"en_route"}`)
	if m.Type != "error" || m.Error.Code != CodeNotFound || m.ID != "s1" {
		t.Fatalf("status of unknown assignment: got %+v, want not_found", m)
	}
}

// Bad input gets a 4xx naming the field, per endpoint (PRODUCT §8).
func TestBadInputPerEndpoint(t *testing.T) {
	f := newAPIFixture(t, StreamLimits{})
	inc, a := f.createIncident(t, baoding)
	incPath := "/api/v1/incidents/" + inc.ID
	asgPath := "/api/v1/assignments/" + a.ID
	for _, tc := range badInputCases(incPath, asgPath) {
		t.Run(tc.name, func(t *testing.T) {
			code, body := f.do(tc.method, tc.path, tc.cred, tc.ctype, tc.body)
			if code != tc.status {
				t.Fatalf("got %d %s, want %d", code, body, tc.status)
			}
			e := decode[errorBody](t, body)
			if e.Error == nil || e.Error.Code != tc.code || e.Error.Field != tc.field {
				t.Fatalf("got %s, want code %s field %q", body, tc.code, tc.field)
			}
		})
	}
	// Nothing above changed anything: only the fixture's incident exists.
	if incs := f.eng.Incidents("", false); len(incs) != 1 {
		t.Fatalf("got %d incidents, want 1", len(incs))
	}
	// The failed import wrote no line of it.
	if _, err := f.eng.Worker("W7"); err == nil {
		t.Fatal("a refused import wrote W7")
	}
	code, body := f.do("POST", "/api/v1/workers/import", credAdmin, "text/csv", "id,name,home_region,skills\nW8,B,HE,magic\n")
	if e := decode[errorBody](t, body); code != 400 || e.Error.Line != 2 {
		t.Fatalf("import: got %d %s, want line 2", code, body)
	}
}

// Personal data: positions and phones go to staff and the worker itself,
// never to another worker; a worker sees no runners-up.
func TestPersonalDataVisibility(t *testing.T) {
	f := newAPIFixture(t, StreamLimits{})
	_, a := f.createIncident(t, baoding)
	code, body := f.do("GET", "/api/v1/workers/W1", credCoordHE, "", "")
	if w := decode[dispatch.Worker](t, body); code != 200 || w.Phone == "" || w.Position == nil {
		t.Fatalf("coordinator: got %d %s, want phone and position", code, body)
	}
	code, body = f.do("GET", "/api/v1/assignments/"+a.ID, credWorker, "", "")
	if as := decode[dispatch.Assignment](t, body); code != 200 || len(as.Explanation.RunnersUp) != 0 {
		t.Fatalf("worker: got %d %s, want no runners-up", code, body)
	}
	// A scoped desk's snapshot has only its region.
	_, body = f.do("GET", "/api/v1/snapshot", credCoordOther, "", "")
	snap := decode[snapshotResponse](t, body)
	if len(snap.Incidents) != 0 || slices.ContainsFunc(snap.Workers, func(w dispatch.Worker) bool { return w.HomeRegion != "BJ" }) {
		t.Fatalf("BJ desk snapshot: got %s, want only BJ", body)
	}
	_, body = f.do("GET", "/api/v1/snapshot", credCoordHE, "", "")
	if snap := decode[snapshotResponse](t, body); len(snap.Incidents) != 1 || len(snap.Assignments) != 1 {
		t.Fatalf("HE desk snapshot: got %s, want its incident", body)
	}
}

// An override that breaks a hard constraint is refused with the list of
// violations until forced with a reason.
func TestOverrideConstraint(t *testing.T) {
	f := newAPIFixture(t, StreamLimits{})
	inc, _ := f.createIncident(t, baoding)
	if err := f.eng.SetDuty(t.Context(), "W3", false); err != nil {
		t.Fatal(err)
	}
	path := "/api/v1/incidents/" + inc.ID + "/assignments"
	code, body := f.do("POST", path, credCoordHE, "application/json", `{"worker_id":"W3","need_index":0}`)
	e := decode[errorBody](t, body)
	if code != 409 || e.Error.Code != "constraint_violated" || !slices.Contains(e.Error.Violations, "off_duty") {
		t.Fatalf("got %d %s, want 409 constraint_violated off_duty", code, body)
	}
	code, body = f.do("POST", path, credCoordHE, "application/json", `{"worker_id":"W3","need_index":0,"force":true,"reason":"only one who knows the area"}`)
	if a := decode[dispatch.Assignment](t, body); code != 201 || a.WorkerID != "W3" || !a.Forced || a.ChosenBy != "Hebei desk" {
		t.Fatalf("forced: got %d %s, want 201 forced by Hebei desk", code, body)
	}
}

type badInputCase struct {
	name, method, path, cred, ctype, body string
	status                                int
	code, field                           string
}

// badInputCases are the bad-input table, also the fuzzers' seeds.
func badInputCases(incPath, asgPath string) []badInputCase {
	const js = "application/json"
	okInc := `"type":"flood","severity":"II","position":{"lat":38.9,"lng":115.5}`
	return []badInputCase{
		{"incident bad json", "POST", "/api/v1/incidents", credCoord, js, `{"type":`, 400, CodeBadJSON, ""},
		{"incident wrong type", "POST", "/api/v1/incidents", credCoord, "text/plain", `{}`, 415, CodeUnsupportedMedia, "Content-Type"},
		{"incident unknown field", "POST", "/api/v1/incidents", credCoord, js, `{` + okInc + `,"created_by":"me","needs":[]}`, 400, CodeUnknownField, "created_by"},
		{"incident no position", "POST", "/api/v1/incidents", credCoord, js, `{"type":"flood","severity":"II","needs":[{"skill":"elderly_care","count":1}]}`, 400, CodeInvalidField, "position"},
		{"incident lat missing", "POST", "/api/v1/incidents", credCoord, js, `{"type":"flood","severity":"II","position":{"lng":115},"needs":[{"skill":"elderly_care","count":1}]}`, 400, CodeInvalidField, "position.lat"},
		{"incident lat range", "POST", "/api/v1/incidents", credCoord, js, `{"type":"flood","severity":"II","position":{"lat":91,"lng":115},"needs":[{"skill":"elderly_care","count":1}]}`, 400, CodeInvalidField, "position.lat"},
		{"incident lng range", "POST", "/api/v1/incidents", credCoord, js, `{"type":"flood","severity":"II","position":{"lat":39,"lng":-181},"needs":[{"skill":"elderly_care","count":1}]}`, 400, CodeInvalidField, "position.lng"},
		{"incident lat string", "POST", "/api/v1/incidents", credCoord, js, `{"type":"flood","severity":"II","position":{"lat":"NaN","lng":115}}`, 400, CodeInvalidField, "position.lat"},
		{"incident unknown skill", "POST", "/api/v1/incidents", credCoord, js, `{` + okInc + `,"needs":[{"skill":"elderly_care","count":1},{"skill":"magic","count":1}]}`, 400, "unknown", "needs[1].skill"},
		{"incident count", "POST", "/api/v1/incidents", credCoord, js, `{` + okInc + `,"needs":[{"skill":"elderly_care","count":0}]}`, 400, "out_of_range", "needs[0].count"},
		{"incident cert", "POST", "/api/v1/incidents", credCoord, js, `{` + okInc + `,"needs":[{"skill":"elderly_care","count":1,"min_cert":"phd"}]}`, 400, "unknown", "needs[0].min_cert"},
		{"incident no needs", "POST", "/api/v1/incidents", credCoord, js, `{` + okInc + `}`, 400, "required", "needs"},
		{"incident severity", "POST", "/api/v1/incidents", credCoord, js, `{"type":"flood","severity":"V","position":{"lat":38.9,"lng":115.5},"needs":[{"skill":"elderly_care","count":1}]}`, 400, "unknown", "severity"},
		{"incident region", "POST", "/api/v1/incidents", credCoord, js, `{` + okInc + `,"region":"SH","needs":[{"skill":"elderly_care","count":1}]}`, 400, "unknown", "region"},
		{"incident out of scope", "POST", "/api/v1/incidents", credCoordOther, js, `{` + okInc + `,"needs":[{"skill":"elderly_care","count":1}]}`, 403, CodeForbidden, "region"},
		{"incident too large", "POST", "/api/v1/incidents", credCoord, js, `{"notes":"` + strings.Repeat("x", maxJSONBody) + `"}`, 413, CodeTooLarge, ""},
		{"incident not found", "GET", "/api/v1/incidents/nope", credCoord, "", "", 404, CodeNotFound, "incident_id"},
		{"incidents status", "GET", "/api/v1/incidents?status=old", credCoord, "", "", 400, CodeInvalidField, "status"},
		{"incidents unknown param", "GET", "/api/v1/incidents?stauts=all", credCoord, "", "", 400, CodeUnknownField, "stauts"},
		{"incidents region scope", "GET", "/api/v1/incidents?region=HE", credCoordOther, "", "", 403, CodeForbidden, "region"},
		{"cancel bad json", "POST", incPath + "/cancel", credCoord, js, `{"reason":1}`, 400, CodeInvalidField, "reason"},
		{"assign no worker", "POST", incPath + "/assignments", credCoord, js, `{"need_index":0}`, 400, CodeInvalidField, "worker_id"},
		{"assign no need", "POST", incPath + "/assignments", credCoord, js, `{"worker_id":"W2"}`, 400, CodeInvalidField, "need_index"},
		{"assign need range", "POST", incPath + "/assignments", credCoord, js, `{"worker_id":"W2","need_index":5}`, 400, "out_of_range", "need_index"},
		{"assign unknown worker", "POST", incPath + "/assignments", credCoord, js, `{"worker_id":"W99","need_index":0}`, 404, CodeNotFound, "worker_id"},
		{"assign force without reason", "POST", incPath + "/assignments", credCoord, js, `{"worker_id":"W2","need_index":0,"force":true}`, 400, "required", "reason"},
		{"answer no accept", "POST", asgPath + "/answer", credWorker, js, `{}`, 400, CodeInvalidField, "accept"},
		{"status unknown", "POST", asgPath + "/status", credWorker, js, `{"status":"flying"}`, 400, "unknown", "status"},
		{"status skip", "POST", asgPath + "/status", credWorker, js, `{"status":"on_scene"}`, 409, dispatch.CodeInvalidTransition, "status"},
		{"status empty", "POST", asgPath + "/status", credWorker, js, `{}`, 400, CodeInvalidField, "status"},
		{"assignment not found", "GET", "/api/v1/assignments/nope", credCoord, "", "", 404, CodeNotFound, "assignment_id"},
		{"assignments both", "GET", "/api/v1/assignments?worker=W1&incident=x", credCoord, "", "", 400, CodeInvalidField, "incident"},
		{"duty missing", "PUT", "/api/v1/workers/W1/duty", credWorker, js, `{}`, 400, CodeInvalidField, "on_duty"},
		{"duty type", "PUT", "/api/v1/workers/W1/duty", credWorker, js, `{"on_duty":"yes"}`, 400, CodeInvalidField, "on_duty"},
		{"position range", "PUT", "/api/v1/workers/W1/position", credWorker, js, `{"lat":39,"lng":200}`, 400, CodeInvalidField, "lng"},
		{"position accuracy", "PUT", "/api/v1/workers/W1/position", credWorker, js, `{"lat":39,"lng":116,"accuracy_m":-3}`, 400, CodeInvalidField, "accuracy_m"},
		{"worker not found", "GET", "/api/v1/workers/W99", credCoord, "", "", 404, CodeNotFound, "worker_id"},
		{"near no lat", "GET", "/api/v1/workers/near?lng=115", credCoord, "", "", 400, CodeInvalidField, "lat"},
		{"near bad k", "GET", "/api/v1/workers/near?lat=39&lng=115&k=0", credCoord, "", "", 400, CodeInvalidField, "k"},
		{"near bad skill", "GET", "/api/v1/workers/near?lat=39&lng=115&skill=magic", credCoord, "", "", 400, "unknown", "skill"},
		{"near bad cert", "GET", "/api/v1/workers/near?lat=39&lng=115&min_cert=x", credCoord, "", "", 400, CodeInvalidField, "min_cert"},
		{"near bad km", "GET", "/api/v1/workers/near?lat=39&lng=115&max_km=-1", credCoord, "", "", 400, CodeInvalidField, "max_km"},
		{"near twice", "GET", "/api/v1/workers/near?lat=39&lat=40&lng=115", credCoord, "", "", 400, CodeInvalidField, "lat"},
		{"upsert empty", "POST", "/api/v1/workers", credAdmin, js, `{"workers":[]}`, 400, CodeInvalidField, "workers"},
		{"upsert bad skill", "POST", "/api/v1/workers", credAdmin, js, `{"workers":[{"id":"W7","name":"A","home_region":"HE","skills":[]},{"id":"W8","name":"B","home_region":"HE","skills":["x"]}]}`, 400, "unknown", "workers[1].skills[0]"},
		{"upsert bad id", "POST", "/api/v1/workers", credAdmin, js, `{"workers":[{"id":"W 7","name":"A","home_region":"HE"}]}`, 400, "invalid", "workers[0].id"},
		{"upsert unknown field", "POST", "/api/v1/workers", credAdmin, js, `{"workers":[{"id":"W7","nmae":"A"}]}`, 400, CodeUnknownField, "nmae"},
		{"import wrong type", "POST", "/api/v1/workers/import", credAdmin, js, `{}`, 415, CodeUnsupportedMedia, "Content-Type"},
		{"import bad line", "POST", "/api/v1/workers/import", credAdmin, "text/csv", "id,name,home_region,skills\nW7,A,HE,elderly_care\nW8,B,HE,magic\n", 400, CodeBadCSV, "skills[0]"},
		{"import bad region", "POST", "/api/v1/workers/import", credAdmin, "text/csv", "id,name,home_region\nW7,A,SH\n", 400, CodeBadCSV, "home_region"},
		{"snapshot bad region", "GET", "/api/v1/snapshot?region=XX", credCoord, "", "", 400, CodeInvalidField, "region"},
		{"method", "DELETE", "/api/v1/incidents", credCoord, "", "", 405, CodeMethodNotAllowed, ""},
		{"no route", "GET", "/api/v1/nothing", credCoord, "", "", 404, CodeNotFound, ""},
	}
}

// Resume against the real engine and store: a worker's stream missed
// events while away and gets exactly those (its own), from the store's log
// when the ring is too small; when retention trimmed the log, a reset.
func TestResumeWithEngineStore(t *testing.T) {
	f := newAPIFixture(t, StreamLimits{RingSize: 2})
	c := f.mustDial(credCoord, "")
	_, live := readUntilLive(t, c)
	c.Close()
	for i := range 5 {
		if err := f.eng.UpdatePosition(t.Context(), "W1", geo.Point{Lat: 38.9 + float64(i)/100, Lng: 115.5}); err != nil {
			t.Fatal(err)
		}
	}
	f.waitSeq(t)
	c = f.mustDial(credCoord, fmt.Sprintf("after=%d", live.Seq))
	got, live2 := readUntilLive(t, c)
	if want := seqRange(live.Seq+1, f.eng.LastSeq()); !slices.Equal(seqs(got), want) || live2.Seq != f.eng.LastSeq() {
		t.Fatalf("got %v live %d, want %v", seqs(got), live2.Seq, want)
	}
	f.store.TruncateBefore(f.eng.LastSeq())
	c2 := f.mustDial(credCoord, fmt.Sprintf("after=%d", live.Seq))
	if m := readMsg(t, c2); m.Type != "reset" || m.Reason != "log_truncated" {
		t.Fatalf("got %+v, want reset", m)
	}
}
