package web

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"testing"
)

// Who may call what (PRODUCT §9), for every route and every kind of
// credential. "own" is about worker W1's resources in Hebei.
type accessRule int

const (
	rulePublic accessRule = iota
	ruleAny
	ruleStaff
	ruleAdmin
	ruleWorkerOnly // W1 itself, nobody else
	ruleOwn        // W1 itself, or staff whose scope covers Hebei
	ruleStaffHE    // staff whose scope covers Hebei
)

var allCreds = []string{credNone, credExpired, credRevoked, credWorker, credOtherWorker, credCoordOther, credCoordHE, credCoord, credAdmin}

// wantFor says what a credential gets under a rule: 0 for "allowed"
// (any status but 401 and 403), else the refusal.
func wantFor(rule accessRule, cred string) int {
	if rule == rulePublic {
		return 0
	}
	switch cred {
	case credNone, credExpired, credRevoked:
		return http.StatusUnauthorized
	}
	allowed := map[accessRule][]string{
		ruleAny:        {credWorker, credOtherWorker, credCoordOther, credCoordHE, credCoord, credAdmin},
		ruleStaff:      {credCoordOther, credCoordHE, credCoord, credAdmin},
		ruleAdmin:      {credAdmin},
		ruleWorkerOnly: {credWorker},
		ruleOwn:        {credWorker, credCoordHE, credCoord, credAdmin},
		ruleStaffHE:    {credCoordHE, credCoord, credAdmin},
	}[rule]
	if slices.Contains(allowed, cred) {
		return 0
	}
	return http.StatusForbidden
}

func TestAccessEveryRouteEveryRole(t *testing.T) {
	f := newAPIFixture(t, StreamLimits{})
	inc, a := f.createIncident(t, baoding) // HE, offered to W1
	incB := f.logIncident(t, rongchen)     // another HE incident to cancel
	incC := f.logIncident(t, rongchen)     // and one to close
	csv := "id,name,home_region\nW9,New,HE\n"
	upsert := `{"workers":[{"id":"W8","name":"N","home_region":"HE","skills":[]}]}`
	create := `{"type":"flood","severity":"III","position":{"lat":38.9,"lng":115.5},"needs":[{"skill":"elderly_care","count":1}]}`

	type call struct {
		method, pattern, path, ctype, body string
		rule                               accessRule
	}
	calls := []call{
		{"GET", "/healthz", "/healthz", "", "", rulePublic},
		{"GET", "/readyz", "/readyz", "", "", rulePublic},
		{"GET", "/metrics", "/metrics", "", "", ruleAdmin},
		{"GET", "/api/v1/me", "/api/v1/me", "", "", ruleAny},
		{"POST", "/api/v1/ws-ticket", "/api/v1/ws-ticket", "", "", ruleAny},
		{"GET", "/api/v1/stream", "/api/v1/stream", "", "", ruleAny},
		{"GET", "/api/v1/config", "/api/v1/config", "", "", ruleAny},
		{"GET", "/api/v1/policy", "/api/v1/policy", "", "", ruleAdmin},
		{"GET", "/api/v1/snapshot", "/api/v1/snapshot", "", "", ruleStaff},
		{"POST", "/api/v1/workers", "/api/v1/workers", "application/json", upsert, ruleAdmin},
		{"POST", "/api/v1/workers/import", "/api/v1/workers/import", "text/csv", csv, ruleAdmin},
		{"GET", "/api/v1/workers/near", "/api/v1/workers/near?lat=38.9&lng=115.5", "", "", ruleStaff},
		{"GET", "/api/v1/workers/{id}", "/api/v1/workers/W1", "", "", ruleOwn},
		{"GET", "/api/v1/workers/{id}/view", "/api/v1/workers/W1/view", "", "", ruleOwn},
		{"PUT", "/api/v1/workers/{id}/duty", "/api/v1/workers/W1/duty", "application/json", `{"on_duty":true}`, ruleOwn},
		{"PUT", "/api/v1/workers/{id}/position", "/api/v1/workers/W1/position", "application/json", `{"lat":38.9,"lng":115.5}`, ruleOwn},
		{"GET", "/api/v1/incidents", "/api/v1/incidents", "", "", ruleStaff},
		{"POST", "/api/v1/incidents", "/api/v1/incidents", "application/json", create, ruleStaffHE},
		{"GET", "/api/v1/incidents/{id}", "/api/v1/incidents/" + inc.ID, "", "", ruleOwn},
		{"POST", "/api/v1/incidents/{id}/cancel", "/api/v1/incidents/" + incB.ID + "/cancel", "application/json", `{"reason":"test"}`, ruleStaffHE},
		{"POST", "/api/v1/incidents/{id}/close", "/api/v1/incidents/" + incC.ID + "/close", "", "", ruleStaffHE},
		{"POST", "/api/v1/incidents/{id}/assignments", "/api/v1/incidents/" + inc.ID + "/assignments", "application/json", `{"worker_id":"W2","need_index":0,"reason":"r"}`, ruleStaffHE},
		{"GET", "/api/v1/assignments", "/api/v1/assignments?worker=W1", "", "", ruleOwn},
		{"GET", "/api/v1/assignments/{id}", "/api/v1/assignments/" + a.ID, "", "", ruleOwn},
		{"POST", "/api/v1/assignments/{id}/answer", "/api/v1/assignments/" + a.ID + "/answer", "application/json", `{"accept":true}`, ruleWorkerOnly},
		{"POST", "/api/v1/assignments/{id}/status", "/api/v1/assignments/" + a.ID + "/status", "application/json", `{"status":"en_route"}`, ruleOwn},
		{"POST", "/api/v1/assignments/{id}/unassign", "/api/v1/assignments/" + a.ID + "/unassign", "application/json", `{"reason":"r"}`, ruleStaffHE},
	}
	// The table covers every route the server has.
	var covered []string
	for _, c := range calls {
		covered = append(covered, c.method+" "+c.pattern)
	}
	sort.Strings(covered)
	if got := f.srv.Routes(); !slices.Equal(got, covered) {
		t.Fatalf("routes and table differ:\nserved  %v\ntable   %v", got, covered)
	}
	for _, c := range calls {
		for _, cred := range allCreds {
			t.Run(fmt.Sprintf("%s %s/%s", c.method, c.pattern, cred), func(t *testing.T) {
				code, body := f.do(c.method, c.path, cred, c.ctype, c.body)
				want := wantFor(c.rule, cred)
				switch {
				case want == 0 && (code == 401 || code == 403 || code >= 500):
					t.Errorf("got %d %s, want allowed", code, body)
				case want != 0 && code != want:
					t.Errorf("got %d %s, want %d", code, body, want)
				case want != 0:
					e := decode[errorBody](t, body)
					if e.Error == nil || e.Error.Code == "" {
						t.Errorf("got body %s, want the error shape", body)
					}
				}
			})
		}
	}
}

// The stream, over a real websocket, for every credential; then the
// narrowing refusals.
func TestAccessStreamEveryRole(t *testing.T) {
	f := newAPIFixture(t, StreamLimits{})
	for _, cred := range allCreds {
		c, resp, err := f.dial(cred, "")
		want := wantFor(ruleAny, cred)
		if want == 0 {
			if err != nil {
				t.Errorf("%s: got %v, want a stream", cred, err)
				continue
			}
			readUntilLive(t, c)
			c.Close()
			continue
		}
		if err == nil || resp == nil || resp.StatusCode != want {
			t.Errorf("%s: got %v, want %d", cred, resp, want)
		}
	}
	for _, tc := range []struct {
		cred, query string
		want        int
	}{
		{credCoordHE, "regions=BJ", http.StatusForbidden},
		{credCoordHE, "regions=HE,TJ", http.StatusForbidden},
		{credWorker, "regions=HE", http.StatusForbidden},
		{credCoord, "regions=XX", http.StatusBadRequest},
		{credCoord, "after=x", http.StatusBadRequest},
	} {
		_, resp, err := f.dial(tc.cred, tc.query)
		if err == nil || resp == nil || resp.StatusCode != tc.want {
			t.Errorf("%s ?%s: got %v, want %d", tc.cred, tc.query, resp, tc.want)
		}
	}
}
