package main

// Whole dispatchd processes on one redis-server, failing as processes do:
// a node killed with SIGKILL mid-surge, and Redis itself killed and
// restarted under a running node.

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/jjj-social-work/dispatch/internal/redistest"
)

// TestNodeKilledMidSurge: three nodes on one Redis; clients stream from
// node A; a surge of incidents goes to all three; A is killed with
// SIGKILL in the middle. The clients resume on B and miss nothing and get
// nothing twice, the offers A had made and nobody answered expire exactly
// once (by the other nodes), and no worker ever holds two active
// assignments.
func TestNodeKilledMidSurge(t *testing.T) {
	t.Run("standalone", func(t *testing.T) {
		srv := redistest.Start(t, "--appendonly", "yes", "--dir", t.TempDir())
		nodeKilledMidSurge(t, "redis://"+srv.Addr()+"/0?dial_timeout=1s&read_timeout=3s&max_retries=1")
	})
	t.Run("cluster", func(t *testing.T) {
		c := redistest.StartCluster(t, 3, "--appendonly", "yes")
		addrs := c.Addrs()
		url := "redis://" + addrs[0] + "?dial_timeout=1s&read_timeout=3s&max_retries=1"
		for _, a := range addrs[1:] {
			url += "&addr=" + a
		}
		nodeKilledMidSurge(t, url)
	})
}

func nodeKilledMidSurge(t *testing.T, url string) {
	const (
		workers    = 24
		responsive = 6 // W00..W05 stream and accept every offer; the rest never answer
	)
	bin := dispatchdBinary(t)
	policy := testPolicy(t)
	var nodes []*proc
	for _, name := range []string{"A", "B", "C"} {
		nodes = append(nodes, startNode(t, bin, name, url, policy))
	}
	a, b := nodes[0], nodes[1]

	// Issued by the CLI on A's config: into Redis, so every node accepts them.
	admin := cliToken(t, bin, a, "--role", "administrator", "--name", "ops")
	coords := []string{
		cliToken(t, bin, a, "--role", "coordinator", "--name", "joint desk"),
		cliToken(t, bin, a, "--role", "coordinator", "--name", "night desk"),
	}
	workerTok := map[string]string{}
	for i := range responsive {
		id := fmt.Sprintf("W%02d", i)
		workerTok[id] = cliToken(t, bin, a, "--role", "worker", "--worker", id)
	}
	for _, tok := range append([]string{admin}, coords...) {
		waitAccepted(t, tok, nodes...)
	}
	for _, tok := range workerTok {
		waitAccepted(t, tok, nodes...)
	}
	loadRoster(t, a, admin, workers)

	var target atomic.Pointer[proc]
	target.Store(a)
	var clients []*streamClient
	for i, tok := range coords {
		clients = append(clients, newStreamClient(fmt.Sprintf("coordinator %d", i), tok, "", false, &target))
	}
	for id, tok := range workerTok {
		clients = append(clients, newStreamClient("worker "+id, tok, id, true, &target))
	}
	defer func() {
		for _, c := range clients {
			c.close()
		}
	}()
	coord := clients[0]
	waitUntil(t, "streams connected", 10*time.Second, func() bool {
		for _, c := range clients {
			if _, _, _, n := c.snapshot(); n == 0 {
				return false
			}
		}
		return true
	})

	silentOffers := offersByA(t, a, coords[0], coord)
	s := surge(t, nodes, a, coords[1], func() { target.Store(b) })
	waitOffersEnded(t, coord, s.killAt)

	// The whole log, from B, against what each client received.
	code, body := httpStatus(b.base() + "/readyz")
	var ready struct{ Seq uint64 }
	if err := json.Unmarshal(body, &ready); code != http.StatusOK || err != nil {
		t.Fatalf("readyz on B: %d %s", code, body)
	}
	head := ready.Seq
	log := readLog(t, b, coords[0], head)
	for _, c := range clients {
		if c.worker == "" {
			waitUntil(t, c.name+" to reach the head", 10*time.Second, func() bool { return c.lastSeq() >= head })
		}
		checkClient(t, c, log, head)
	}

	hist := checkAssignments(t, log)
	expired := map[string]int{}
	var offers, accepted, openAtKill int
	for _, e := range log {
		switch e.Type {
		case dispatch.EventOffered:
			offers++
		case dispatch.EventAccepted:
			accepted++
		case dispatch.EventExpired:
			expired[e.AssignmentID]++
		}
	}
	for _, states := range hist {
		if len(states) > 1 && states[0].State == dispatch.StateOffered && states[0].OfferedAt.Before(s.killAt) &&
			states[1].UpdatedAt.After(s.killAt) {
			openAtKill++ // answered on another node, or expired by one, after A died
		}
	}
	for _, id := range silentOffers {
		states := hist[id]
		if expired[id] != 1 || states[len(states)-1].State != dispatch.StateExpired {
			t.Errorf("offer %s that A made and nobody answered: expired %d times, ends %s; want expired once",
				id, expired[id], states[len(states)-1].State)
		}
	}
	for id, n := range expired {
		if n != 1 {
			t.Errorf("offer %s expired %d times", id, n)
		}
	}
	t.Logf("%d events; %d incidents logged, %d posts to A refused or cut; %d offers, %d accepted, %d expired; "+
		"%d offers open when A died, each ended once since",
		len(log), s.created+int64(len(silentOffers)), s.cut, offers, accepted, len(expired), openAtKill)
}

// offersByA logs two incidents on A right where silent workers (W12,
// W18) stand, before any surge, so that A offers them at once to workers
// who will never answer. It returns the offers, as coord saw them.
func offersByA(t *testing.T, a *proc, tok string, coord *streamClient) []string {
	t.Helper()
	var incidents []string
	for _, i := range []int{12, 18} {
		w := rosterWorker(i)["position"].(map[string]float64)
		var inc dispatch.Incident
		if err := json.Unmarshal(mustAPI(t, http.StatusCreated, "POST", a.base()+"/api/v1/incidents", tok,
			incidentAt(w["lat"], w["lng"], "before the surge")), &inc); err != nil {
			t.Fatal(err)
		}
		incidents = append(incidents, inc.ID)
	}
	var offers []string
	waitUntil(t, "offers on A's incidents", 5*time.Second, func() bool {
		offers = offers[:0]
		evs, _, _, _ := coord.snapshot()
		for _, e := range evs {
			if e.Type == dispatch.EventOffered && slices.Contains(incidents, e.IncidentID) {
				offers = append(offers, e.AssignmentID)
			}
		}
		return len(offers) == len(incidents)
	})
	return offers
}

// The surge: each node gets perNode incidents, one every surgeInterval
// (about 4 s in all); the victim dies killAfter in, after the first joint
// batch window has closed.
const (
	perNode       = 10
	surgeInterval = 400 * time.Millisecond
	killAfter     = 2600 * time.Millisecond
)

type surgeResult struct {
	killAt  time.Time
	created int64 // answered 201
	cut     int64 // sent to the victim as it died, or not sent since it was dead
}

// surge runs the surge against nodes and kills victim with SIGKILL in the
// middle, calling beforeKill just before. Any answer but 201 fails the
// test, except from the victim around its death.
func surge(t *testing.T, nodes []*proc, victim *proc, tok string, beforeKill func()) surgeResult {
	t.Helper()
	var (
		wg           sync.WaitGroup
		created, cut atomic.Int64
		afterKill    atomic.Int64
		dead         atomic.Bool
		mu           sync.Mutex
		unexpected   []string
		start        = time.Now()
	)
	for n, node := range nodes {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(n), 7))
			for i := range perNode {
				time.Sleep(time.Until(start.Add(time.Duration(i) * surgeInterval)))
				if node == victim && dead.Load() {
					cut.Add(1)
					continue
				}
				body := incidentAt(38.80+rng.Float64()*0.06, 115.40+rng.Float64()*0.10, fmt.Sprintf("surge %s-%d", node.name, i))
				code, resp := api("POST", node.base()+"/api/v1/incidents", tok, body)
				switch {
				case code == http.StatusCreated:
					created.Add(1)
					if dead.Load() {
						afterKill.Add(1)
					}
				case node == victim && (code == 0 || dead.Load()):
					cut.Add(1) // died under this request: its outcome shows in the log
				default:
					mu.Lock()
					unexpected = append(unexpected, fmt.Sprintf("%s-%d: %d %s", node.name, i, code, resp))
					mu.Unlock()
				}
			}
		})
	}
	time.Sleep(time.Until(start.Add(killAfter)))
	beforeKill()
	killAt := time.Now()
	dead.Store(true)
	victim.kill()
	wg.Wait()
	for _, u := range unexpected {
		t.Errorf("surge incident %s, want 201", u)
	}
	if afterKill.Load() == 0 {
		t.Errorf("no incident was logged after %s died", victim.name)
	}
	return surgeResult{killAt: killAt, created: created.Load(), cut: cut.Load()}
}

// waitOffersEnded waits until every offer made before killAt has ended,
// as coord sees the log: at the latest its timeout plus the other nodes'
// grace after the kill.
func waitOffersEnded(t *testing.T, coord *streamClient, killAt time.Time) {
	t.Helper()
	var open map[string]bool
	deadline := time.Now().Add(offerTimeout + foreignGrace + 10*time.Second)
	for {
		evs, _, _, _ := coord.snapshot()
		open = map[string]bool{}
		for _, e := range evs {
			switch e.Type {
			case dispatch.EventOffered:
				if e.Time.Before(killAt) {
					open[e.AssignmentID] = true
				}
			case dispatch.EventAccepted, dispatch.EventDeclined, dispatch.EventExpired, dispatch.EventCancelled:
				delete(open, e.AssignmentID)
			}
		}
		if len(open) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("offers made before the kill still open: %v", open)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRedisOutage: Redis killed under a running node. The node says it is
// not ready, refuses writes with 503 in the API's error shape and applies
// none of them; once Redis is back (from its AOF) the node is ready and
// takes writes again, with nobody touching it.
func TestRedisOutage(t *testing.T) {
	bin := dispatchdBinary(t)
	srv := redistest.Start(t, "--appendonly", "yes", "--dir", t.TempDir())
	url := "redis://" + srv.Addr() + "/0?dial_timeout=1s&read_timeout=3s&max_retries=1"
	node := startNode(t, bin, "A", url, testPolicy(t))
	admin := cliToken(t, bin, node, "--role", "administrator", "--name", "ops")
	coord := cliToken(t, bin, node, "--role", "coordinator", "--name", "joint desk")
	waitAccepted(t, admin, node)
	waitAccepted(t, coord, node)
	loadRoster(t, node, admin, 3)
	incidents := node.base() + "/api/v1/incidents"
	mustAPI(t, http.StatusCreated, "POST", incidents, coord, incidentAt(38.80, 115.40, "before the outage"))

	srv.Kill()
	waitUntil(t, "readyz to fail", 10*time.Second, func() bool {
		code, b := httpStatus(node.base() + "/readyz")
		return code == http.StatusServiceUnavailable && errorCode(b) == "unavailable"
	})
	for _, w := range []struct {
		method, url string
		body        any
	}{
		{"POST", incidents, incidentAt(38.82, 115.42, "during the outage")},
		{"POST", node.base() + "/api/v1/workers", map[string]any{"workers": []map[string]any{{
			"id": "W-outage", "name": "late", "home_region": "HE", "skills": []string{"crisis_intervention"}}}}},
		{"PUT", node.base() + "/api/v1/workers/W00/duty", map[string]bool{"on_duty": false}},
	} {
		tok := coord
		if strings.HasSuffix(w.url, "/workers") {
			tok = admin // the cached credential still authenticates
		}
		code, b := api(w.method, w.url, tok, w.body)
		if code != http.StatusServiceUnavailable || errorCode(b) != "unavailable" {
			t.Errorf("%s %s with redis down: got %d %s, want 503 unavailable", w.method, w.url, code, b)
		}
	}

	start := time.Now()
	srv.Restart()
	waitUntil(t, "readyz after redis restarted", 20*time.Second, func() bool {
		code, _ := httpStatus(node.base() + "/readyz")
		return code == http.StatusOK
	})
	t.Logf("ready %v after redis restarted", time.Since(start).Round(time.Millisecond))
	mustAPI(t, http.StatusCreated, "POST", incidents, coord, incidentAt(38.84, 115.44, "after the outage"))

	// Nothing of the refused writes: not in the node's memory, not in
	// the log, which is contiguous.
	var list struct{ Incidents []dispatch.Incident }
	if err := json.Unmarshal(mustAPI(t, http.StatusOK, "GET", incidents+"?status=all", coord, nil), &list); err != nil {
		t.Fatal(err)
	}
	var notes []string
	for _, inc := range list.Incidents {
		notes = append(notes, inc.Notes)
	}
	slices.Sort(notes)
	if want := []string{"after the outage", "before the outage"}; !slices.Equal(notes, want) {
		t.Errorf("incidents: got %q, want %q", notes, want)
	}
	mustAPI(t, http.StatusNotFound, "GET", node.base()+"/api/v1/workers/W-outage", admin, nil)
	var w0 dispatch.Worker
	if err := json.Unmarshal(mustAPI(t, http.StatusOK, "GET", node.base()+"/api/v1/workers/W00", admin, nil), &w0); err != nil || !w0.OnDuty {
		t.Errorf("W00: got %+v, %v; want still on duty", w0, err)
	}
	code, body := httpStatus(node.base() + "/readyz")
	var ready struct{ Seq uint64 }
	if err := json.Unmarshal(body, &ready); code != http.StatusOK || err != nil {
		t.Fatalf("readyz: %d %s", code, body)
	}
	for _, e := range readLog(t, node, coord, ready.Seq) {
		if strings.Contains(string(e.Data), "during the outage") || e.WorkerID == "W-outage" {
			t.Errorf("the log holds a refused write: seq %d %s", e.Seq, e.Type)
		}
	}
}
