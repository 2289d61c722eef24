package uitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// scene is a running dispatchd with credentials for every role and a
// roster loaded through the API, as an administrator would set up a desk.
type scene struct {
	t     *testing.T
	srv   *realServer
	admin string // administrator token
	coord string // joint-desk coordinator token (all regions)
	w1    string // worker token of w1 (李娜)
}

// The two named workers the scenarios drive from phones. Neither has a
// position until its phone shares one.
var namedWorkers = []map[string]any{
	{"id": "w1", "name": "李娜", "phone": "13800000001", "home_region": "HE", "agency": "保定社工站",
		"cert": "intermediate", "skills": []string{"crisis_intervention", "elderly_care"}, "languages": []string{"zh"}},
	{"id": "w2", "name": "王强", "phone": "13800000002", "home_region": "BJ", "agency": "西城社工事务所",
		"cert": "assistant", "skills": []string{"crisis_intervention", "child_protection"}},
}

// newScene starts dispatchd in a fresh data dir, issues an administrator,
// a coordinator and w1's worker token, and loads the roster. With
// background, a few dozen on-duty workers around the reference places give
// the map's hexagons something to show; their skills (elderly care,
// community mobilisation) keep them out of the crisis-intervention offers
// the scenarios make to w1.
func newScene(t *testing.T, background bool) *scene {
	t.Helper()
	return newSceneWith(t, background, nil)
}

// newSceneWith is newScene with extra entries for the server's config.
func newSceneWith(t *testing.T, background bool, config map[string]any) *scene {
	t.Helper()
	srv := startRealServerWith(t, t.TempDir(), freeAddr(t), config)
	sc := &scene{t: t, srv: srv}
	sc.admin = srv.token("-role", "administrator", "-name", "管理员")
	sc.coord = srv.token("-role", "coordinator", "-name", "联合调度台")
	sc.w1 = srv.token("-role", "worker", "-worker", "w1", "-name", "李娜")
	for _, tok := range []string{sc.admin, sc.coord, sc.w1} {
		sc.waitCredential(tok)
	}
	roster := append([]map[string]any{}, namedWorkers...)
	var bg []string
	if background {
		for _, w := range backgroundWorkers() {
			roster = append(roster, w)
			bg = append(bg, w["id"].(string))
		}
	}
	sc.call(sc.admin, "POST", "/api/v1/workers", map[string]any{"workers": roster}, http.StatusOK)
	for _, id := range bg {
		sc.call(sc.admin, "PUT", "/api/v1/workers/"+id+"/duty", map[string]any{"on_duty": true}, http.StatusNoContent)
	}
	return sc
}

// backgroundWorkers spreads workers around the reference places of the
// three regions (PRODUCT §10), a few to a dozen per place.
func backgroundWorkers() []map[string]any {
	places := []struct {
		lat, lng float64
		region   string
	}{
		{39.904, 116.407, "BJ"}, {39.912, 116.366, "BJ"}, {39.910, 116.657, "BJ"},
		{39.343, 117.362, "TJ"}, {39.384, 117.044, "TJ"}, {38.938, 117.357, "TJ"},
		{38.043, 114.515, "HE"}, {38.883, 115.500, "HE"}, {39.631, 118.180, "HE"},
		{40.767, 114.886, "HE"}, {40.951, 117.963, "HE"}, {38.304, 116.839, "HE"},
	}
	var out []map[string]any
	n := 0
	for i, p := range places {
		for k := 0; k < 2+i%4*2; k++ {
			n++
			out = append(out, map[string]any{
				"id": fmt.Sprintf("b%03d", n), "name": fmt.Sprintf("社工%03d", n), "home_region": p.region,
				"cert": "assistant", "skills": []string{"elderly_care", "community_mobilisation"},
				"position": map[string]float64{
					"lat": p.lat + 0.05*math.Sin(float64(n)*1.7),
					"lng": p.lng + 0.06*math.Cos(float64(n)*2.3),
				},
			})
		}
	}
	return out
}

// waitCredential waits until the running server accepts tok: it reads
// the credentials file again within a second of a change.
func (sc *scene) waitCredential(tok string) {
	sc.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, _ := sc.do(tok, "GET", "/api/v1/me", nil)
		if status == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			sc.t.Fatalf("credential not accepted after 10 s: GET /api/v1/me = %d, want 200", status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// workerToken issues a worker credential for id and waits until it works.
func (sc *scene) workerToken(id string) string {
	sc.t.Helper()
	tok := sc.srv.token("-role", "worker", "-worker", id, "-name", id)
	sc.waitCredential(tok)
	return tok
}

func (sc *scene) do(tok, method, path string, body any) (int, []byte) {
	sc.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			sc.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, sc.srv.url()+path, rd)
	if err != nil {
		sc.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// call makes an API call and fails the test unless it answers want.
func (sc *scene) call(tok, method, path string, body any, want int) []byte {
	sc.t.Helper()
	status, b := sc.do(tok, method, path, body)
	if status != want {
		sc.t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, b)
	}
	return b
}

type incidentRef struct {
	ID     string `json:"id"`
	Region string `json:"region"`
}

// createIncident logs a flood with one need, as the coordinator.
func (sc *scene) createIncident(lat, lng float64, sev, skill, cert, notes string) incidentRef {
	sc.t.Helper()
	body := map[string]any{"type": "flood", "severity": sev, "position": map[string]float64{"lat": lat, "lng": lng},
		"needs": []map[string]any{{"skill": skill, "count": 1, "min_cert": cert}}}
	if notes != "" {
		body["notes"] = notes
	}
	var inc incidentRef
	if err := json.Unmarshal(sc.call(sc.coord, "POST", "/api/v1/incidents", body, http.StatusCreated), &inc); err != nil {
		sc.t.Fatal(err)
	}
	return inc
}

type assignmentRef struct {
	ID        string `json:"id"`
	WorkerID  string `json:"worker_id"`
	State     string `json:"state"`
	EndReason string `json:"end_reason"`
}

func (sc *scene) assignments(query string) []assignmentRef {
	sc.t.Helper()
	b := sc.call(sc.coord, "GET", "/api/v1/assignments?"+query, nil, http.StatusOK)
	var out struct {
		Assignments []assignmentRef `json:"assignments"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		sc.t.Fatalf("assignments: decode %s: %v", b, err)
	}
	return out.Assignments
}

// waitOffer waits until the incident has an offer out and returns it.
func (sc *scene) waitOffer(incidentID string) assignmentRef {
	sc.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		for _, a := range sc.assignments("incident=" + incidentID) {
			if a.State == "offered" {
				return a
			}
		}
		if time.Now().After(deadline) {
			sc.t.Fatalf("no offer for incident %s after %v", incidentID, wait)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// acceptAs answers an offer as its worker would from a phone, over the API.
func (sc *scene) acceptAs(a assignmentRef) {
	sc.t.Helper()
	tok := sc.workerToken(a.WorkerID)
	sc.call(tok, "POST", "/api/v1/assignments/"+a.ID+"/answer", map[string]any{"accept": true}, http.StatusOK)
}

type streamEvent struct {
	Seq          uint64          `json:"seq"`
	Type         string          `json:"type"`
	WorkerID     string          `json:"worker_id"`
	IncidentID   string          `json:"incident_id"`
	AssignmentID string          `json:"assignment_id"`
	Data         json.RawMessage `json:"data"`
}

// events reads the server's event log after seq through the stream, as
// the administrator, up to the "live" frame.
func (sc *scene) events(after uint64) []streamEvent {
	sc.t.Helper()
	h := http.Header{"Authorization": {"Bearer " + sc.admin}}
	u := fmt.Sprintf("ws://%s/api/v1/stream?after=%d", sc.srv.addr, after)
	conn, res, err := websocket.DefaultDialer.Dial(u, h)
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		sc.t.Fatalf("dial stream: %v (status %d)", err, status)
	}
	defer conn.Close()
	var out []streamEvent
	for {
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		var f struct {
			Type  string      `json:"type"`
			Event streamEvent `json:"event"`
		}
		if err := conn.ReadJSON(&f); err != nil {
			sc.t.Fatalf("read stream: %v", err)
		}
		switch f.Type {
		case "event":
			out = append(out, f.Event)
		case "live":
			return out
		case "reset":
			sc.t.Fatalf("stream after %d: reset, want the events", after)
		}
	}
}

// feedTypes are the event types the dashboard's feed shows a line for.
func feedShows(typ string) bool {
	if typ == "worker.duty" {
		return true
	}
	return !strings.HasPrefix(typ, "worker.")
}
