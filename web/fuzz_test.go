package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fuzzTarget is one endpoint that decodes outside input.
type fuzzTarget struct {
	method, path, cred, ctype string
}

// fuzzAPI builds one server over a real engine for a fuzz run and returns
// a function that sends a body to a target through the handler, failing
// on any 5xx or on an error answer outside the one JSON shape.
func fuzzAPI(f *testing.F) (func(t *testing.T, tg fuzzTarget, body []byte), string, string) {
	fx := newAPIFixtureOpts(f, fixtureOptions{quiet: true})
	inc, a := fx.createIncident(f, baoding)
	h := fx.srv.Handler()
	send := func(t *testing.T, tg fuzzTarget, body []byte) {
		req := httptest.NewRequest(tg.method, tg.path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+fx.tokens[tg.cred])
		req.Header.Set("Content-Type", tg.ctype)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s: got %d %s for %q", tg.method, tg.path, rec.Code, rec.Body, body)
		}
		if rec.Code >= 400 {
			var e errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == nil || e.Error.Code == "" {
				t.Fatalf("%s %s: got %d %s, want the error shape", tg.method, tg.path, rec.Code, rec.Body)
			}
		}
	}
	return send, "/api/v1/incidents/" + inc.ID, "/api/v1/assignments/" + a.ID
}

// FuzzJSONBodies sends arbitrary bodies to every JSON endpoint: each
// answer is a success or a 4xx in the error shape, never a 5xx or a crash.
func FuzzJSONBodies(f *testing.F) {
	send, incPath, asgPath := fuzzAPI(f)
	targets := []fuzzTarget{
		{"POST", "/api/v1/incidents", credCoord, "application/json"},
		{"POST", "/api/v1/workers", credAdmin, "application/json"},
		{"POST", incPath + "/assignments", credCoord, "application/json"},
		{"POST", incPath + "/cancel", credCoord, "application/json"},
		{"PUT", "/api/v1/workers/W1/duty", credWorker, "application/json"},
		{"PUT", "/api/v1/workers/W1/position", credWorker, "application/json"},
		{"POST", asgPath + "/answer", credWorker, "application/json"},
		{"POST", asgPath + "/status", credWorker, "application/json"},
		{"POST", asgPath + "/unassign", credCoord, "application/json"},
	}
	for _, tc := range badInputCases(incPath, asgPath) {
		if tc.ctype != "application/json" || len(tc.body) > 4096 {
			continue
		}
		for i, tg := range targets {
			if tg.path == tc.path {
				f.Add(uint8(i), []byte(tc.body))
			}
		}
	}
	f.Add(uint8(0), []byte(`{"type":"flood","severity":"II","position":{"lat":38.9,"lng":115.5},"needs":[{"skill":"elderly_care","count":1}]}`))
	f.Add(uint8(1), []byte(`{"workers":[{"id":"W5","name":"A","home_region":"HE","skills":["elderly_care"],"position":{"lat":39,"lng":115}}]}`))
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		send(t, targets[int(which)%len(targets)], body)
	})
}

// FuzzImportCSV sends arbitrary roster files through the import endpoint.
func FuzzImportCSV(f *testing.F) {
	send, incPath, asgPath := fuzzAPI(f)
	for _, tc := range csvCases {
		f.Add([]byte(tc.body))
	}
	for _, tc := range badInputCases(incPath, asgPath) {
		if tc.ctype == "text/csv" {
			f.Add([]byte(tc.body))
		}
	}
	f.Add([]byte(strings.Repeat("id,name,home_region\n", 1) + "W5,A,HE\n"))
	tg := fuzzTarget{http.MethodPost, "/api/v1/workers/import", credAdmin, "text/csv"}
	f.Fuzz(func(t *testing.T, body []byte) {
		send(t, tg, body)
	})
}

// FuzzWorkerMessages sends arbitrary socket messages as worker W1 through
// the server to the engine: every answer is an ack or a 4xx error frame.
func FuzzWorkerMessages(f *testing.F) {
	fx := newAPIFixtureOpts(f, fixtureOptions{quiet: true})
	_, a := fx.createIncident(f, baoding)
	p, err := fx.creds.Authenticate(fx.tokens[credWorker])
	if err != nil {
		f.Fatal(err)
	}
	for _, tc := range messageCases {
		f.Add([]byte(tc.msg))
	}
	f.Add([]byte(`{"type":"answer","id":"a1","assignment_id":"` + a.ID + `","accept":true}`))
	f.Add([]byte(`{"type":"status","id":"s1","assignment_id":"` + a.ID + `","status":"en_route"}`))
	f.Fuzz(func(t *testing.T, msg []byte) {
		fr := fx.srv.handleClientMessage(t.Context(), p, msg)
		var m wireMsg
		if err := json.Unmarshal(fr.data, &m); err != nil {
			t.Fatalf("frame %s: %v", fr.data, err)
		}
		switch m.Type {
		case "ack":
		case "error":
			if m.Error == nil || m.Error.Code == CodeInternal || m.Error.Code == CodeUnavailable {
				t.Fatalf("got error frame %s for %q", fr.data, msg)
			}
		default:
			t.Fatalf("got frame %s", fr.data)
		}
	})
}
