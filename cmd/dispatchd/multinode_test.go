package main

// Whole dispatchd processes on one redis-server, failing as processes do:
// a node killed with SIGKILL mid-surge, and Redis itself killed and
// restarted under a running node.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/jjj-social-work/dispatch/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// TestMain silences go-redis's own logger (tests kill Redis on purpose
// under in-process servers) and removes the binary the process tests built.
func TestMain(m *testing.M) {
	redis.SetLogger(quietRedis{})
	code := m.Run()
	if binary.dir != "" {
		os.RemoveAll(binary.dir)
	}
	os.Exit(code)
}

type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

// Bounds of the process tests; together they stay well under a minute.
const (
	buildTimeout = 3 * time.Minute // a cold build cache; normally seconds
	readyTimeout = 30 * time.Second
	callTimeout  = 10 * time.Second
	offerTimeout = 3 * time.Second
	// foreignGrace is how long after an offer's expiry the other nodes
	// wait for the node that made it (dispatch's foreignExpiryGrace).
	foreignGrace = 2 * time.Second
)

// binary is dispatchd built once for all process tests.
var binary struct {
	once      sync.Once
	dir, path string
	err       error
}

// dispatchdBinary builds this package, with -race when the tests run with
// it: the packages are then already compiled that way, and a race inside
// a node shows in its output.
func dispatchdBinary(t *testing.T) string {
	t.Helper()
	binary.once.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			binary.err = fmt.Errorf("the go tool is needed to build dispatchd: %w", err)
			return
		}
		if binary.dir, binary.err = os.MkdirTemp("", "dispatchd-test-"); binary.err != nil {
			return
		}
		binary.path = filepath.Join(binary.dir, "dispatchd")
		args := []string{"build", "-o", binary.path}
		if raceEnabled() {
			args = append(args, "-race")
		}
		ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
		defer cancel()
		if out, err := exec.CommandContext(ctx, goBin, append(args, ".")...).CombinedOutput(); err != nil {
			binary.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binary.err != nil {
		t.Fatal(binary.err)
	}
	return binary.path
}

func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// childEnv is the test's environment without a Redis URL (the nodes get
// theirs from their config files), and without the race detector's
// pause of a second at exit, which each token command would pay.
func childEnv() []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, redisURLEnv+"=") || strings.HasPrefix(kv, "GORACE=")
	})
	return append(env, "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
}

// testPolicy writes the repository's policy with short offer timeouts,
// so offers expire within the test.
func testPolicy(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "configs", "policy.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pol map[string]any
	if err := json.Unmarshal(b, &pol); err != nil {
		t.Fatal(err)
	}
	d := offerTimeout.String()
	pol["offers"].(map[string]any)["timeout"] = map[string]string{"I": d, "II": d, "III": d, "IV": d}
	path := filepath.Join(t.TempDir(), "policy.json")
	if b, err = json.Marshal(pol); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// proc is one dispatchd serve process.
type proc struct {
	name, addr, cfg string
	cmd             *exec.Cmd
	stderr          *syncBuffer
	exited          chan struct{}
}

func (p *proc) base() string { return "http://" + p.addr }

// startNode runs `dispatchd serve` with a config file of its own (own data
// dir, own port) and waits until it is ready.
func startNode(t *testing.T, bin, name, redisURL, policy string) *proc {
	t.Helper()
	dir := t.TempDir()
	p := &proc{name: name, addr: freeAddr(t), cfg: filepath.Join(dir, "dispatchd.json"),
		stderr: &syncBuffer{}, exited: make(chan struct{})}
	cfg := map[string]any{
		"listen": p.addr, "data_dir": filepath.Join(dir, "data"), "redis_url": redisURL,
		"policy_file": policy, "demo": false, "log_level": "warn", "shutdown_timeout": "2s",
	}
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(p.cfg, b, 0o600); err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, "serve", "-config", p.cfg)
	p.cmd.Dir, p.cmd.Env = dir, childEnv()
	p.cmd.Stdout, p.cmd.Stderr = io.Discard, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.kill()
		if out := p.stderr.String(); strings.Contains(out, "DATA RACE") || t.Failed() {
			t.Errorf("node %s output:\n%s", p.name, tail(out, 8000))
		}
	})
	deadline := time.Now().Add(readyTimeout)
	for {
		if code, _ := httpStatus(p.base() + "/readyz"); code == http.StatusOK {
			return p
		}
		select {
		case <-p.exited:
			t.Fatalf("node %s exited: %s", name, p.stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s not ready within %v", name, readyTimeout)
		}
	}
}

// kill ends the process with SIGKILL, by its pid, and waits for it.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

func httpStatus(url string) (int, []byte) {
	c := http.Client{Timeout: callTimeout}
	resp, err := c.Get(url)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// cliToken issues a token with `dispatchd token issue`, using node's
// config (so, its Redis), and returns it.
func cliToken(t *testing.T, bin string, node *proc, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"token", "issue", "-config", node.cfg}, args...)...)
	cmd.Env = childEnv()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("token issue %v: %v\n%s", args, err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}

// api calls a node with a bearer token and returns the status and body;
// status 0 means no answer (a dead node).
func api(method, url, tok string, body any) (int, []byte) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, nil
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c := http.Client{Timeout: callTimeout}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func mustAPI(t *testing.T, want int, method, url, tok string, body any) []byte {
	t.Helper()
	code, b := api(method, url, tok, body)
	if code != want {
		t.Fatalf("%s %s: got %d %s, want %d", method, url, code, b, want)
	}
	return b
}

// waitAccepted polls until every node accepts tok: each re-reads the
// credentials in Redis within a second.
func waitAccepted(t *testing.T, tok string, nodes ...*proc) {
	t.Helper()
	for _, n := range nodes {
		deadline := time.Now().Add(5 * time.Second)
		for {
			code, b := api("GET", n.base()+"/api/v1/me", tok, nil)
			if code == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %s refuses a token issued by the CLI: %d %s", n.name, code, b)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// rosterWorker is one worker of the test roster, on a small grid near
// Baoding, all able to do crisis intervention.
func rosterWorker(i int) map[string]any {
	return map[string]any{
		"id": fmt.Sprintf("W%02d", i), "name": fmt.Sprintf("worker %d", i), "home_region": "HE",
		"cert": "intermediate", "skills": []string{"crisis_intervention"},
		"position": map[string]float64{"lat": 38.80 + 0.02*float64(i/6), "lng": 115.40 + 0.02*float64(i%6)},
	}
}

func loadRoster(t *testing.T, node *proc, admin string, n int) {
	t.Helper()
	ws := make([]map[string]any, n)
	for i := range ws {
		ws[i] = rosterWorker(i)
	}
	mustAPI(t, http.StatusOK, "POST", node.base()+"/api/v1/workers", admin, map[string]any{"workers": ws})
	for i := range n {
		mustAPI(t, http.StatusNoContent, "PUT", node.base()+"/api/v1/workers/"+ws[i]["id"].(string)+"/duty", admin, map[string]bool{"on_duty": true})
	}
}

func incidentAt(lat, lng float64, notes string) map[string]any {
	return map[string]any{
		"type": "flood", "severity": "II", "region": "HE", "notes": notes,
		"position": map[string]float64{"lat": lat, "lng": lng},
		"needs":    []map[string]any{{"skill": "crisis_intervention", "count": 1}},
	}
}

// wireEvent is an event as the stream sends it.
type wireEvent struct {
	Seq          uint64          `json:"seq"`
	Time         time.Time       `json:"time"`
	Type         string          `json:"type"`
	Region       string          `json:"region"`
	WorkerID     string          `json:"worker_id"`
	IncidentID   string          `json:"incident_id"`
	AssignmentID string          `json:"assignment_id"`
	Data         json.RawMessage `json:"data"`
}

type wireFrame struct {
	Type   string     `json:"type"`
	Event  *wireEvent `json:"event"`
	Seq    uint64     `json:"seq"`
	Reason string     `json:"reason"`
}

// streamClient is a stream that resumes after the last event it saw,
// whenever its connection breaks, on whatever node target names. A
// worker's client may accept every offer it is sent.
type streamClient struct {
	name, token, worker string
	accept              bool
	target              *atomic.Pointer[proc]

	mu     sync.Mutex
	events []wireEvent
	live   uint64 // seq of the last live frame
	resets []wireFrame
	conns  int

	stop context.CancelFunc
	done chan struct{}
}

func newStreamClient(name, token, worker string, accept bool, target *atomic.Pointer[proc]) *streamClient {
	ctx, stop := context.WithCancel(context.Background())
	c := &streamClient{name: name, token: token, worker: worker, accept: accept, target: target,
		stop: stop, done: make(chan struct{})}
	go c.run(ctx)
	return c
}

func (c *streamClient) run(ctx context.Context) {
	defer close(c.done)
	for ctx.Err() == nil {
		c.session(ctx)
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// session is one connection, until it breaks or ctx ends.
func (c *streamClient) session(ctx context.Context) {
	c.mu.Lock()
	var after uint64
	if len(c.events) > 0 {
		after = c.events[len(c.events)-1].Seq
	}
	c.mu.Unlock()
	url := "ws://" + c.target.Load().addr + "/api/v1/stream?after=" + strconv.FormatUint(after, 10)
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, resp, err := d.DialContext(ctx, url, http.Header{"Authorization": {"Bearer " + c.token}})
	if err != nil {
		return
	}
	resp.Body.Close()
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	c.mu.Lock()
	c.conns++
	c.mu.Unlock()
	for {
		_, b, err := conn.ReadMessage()
		if err != nil {
			return
		}
		var f wireFrame
		if err := json.Unmarshal(b, &f); err != nil {
			return
		}
		c.mu.Lock()
		switch f.Type {
		case "event":
			c.events = append(c.events, *f.Event)
		case "live":
			c.live = f.Seq
		case "reset":
			c.resets = append(c.resets, f)
		}
		c.mu.Unlock()
		if e := f.Event; c.accept && e != nil && e.Type == dispatch.EventOffered && e.WorkerID == c.worker {
			// Answers to offers that ended meanwhile get an error frame.
			_ = conn.WriteJSON(map[string]any{"type": "answer", "id": "a-" + e.AssignmentID,
				"assignment_id": e.AssignmentID, "accept": true})
		}
	}
}

func (c *streamClient) close() {
	c.stop()
	<-c.done
}

// snapshot returns what the client has received so far.
func (c *streamClient) snapshot() (events []wireEvent, live uint64, resets []wireFrame, conns int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.events), c.live, slices.Clone(c.resets), c.conns
}

func (c *streamClient) lastSeq() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.events) == 0 {
		return 0
	}
	return c.events[len(c.events)-1].Seq
}

// readLog reads the whole log, 1 to upto, from node's stream.
func readLog(t *testing.T, node *proc, tok string, upto uint64) []wireEvent {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial("ws://"+node.addr+"/api/v1/stream?after=0",
		http.Header{"Authorization": {"Bearer " + tok}})
	if err != nil {
		t.Fatalf("read the log from %s: %v", node.name, err)
	}
	resp.Body.Close()
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	var out []wireEvent
	for uint64(len(out)) < upto {
		var f wireFrame
		if err := conn.ReadJSON(&f); err != nil {
			t.Fatalf("read the log from %s: %v (after %d events)", node.name, err, len(out))
		}
		switch f.Type {
		case "event":
			out = append(out, *f.Event)
		case "reset":
			t.Fatalf("read the log from %s: reset %+v", node.name, f)
		}
	}
	checkContiguous(t, "the log", out)
	return out
}

// checkContiguous: seqs run 1, 2, 3, ... with no gap and no repeat.
func checkContiguous(t *testing.T, who string, evs []wireEvent) {
	t.Helper()
	for i, e := range evs {
		if e.Seq != uint64(i)+1 {
			t.Fatalf("%s: event %d has seq %d, want %d (gap or duplicate)", who, i, e.Seq, i+1)
		}
	}
}

// sameEvent compares two copies of an event, the data as JSON values.
func sameEvent(a, b wireEvent) bool {
	var da, db bytes.Buffer
	_ = json.Compact(&da, a.Data)
	_ = json.Compact(&db, b.Data)
	return a.Seq == b.Seq && a.Type == b.Type && a.Time.Equal(b.Time) && a.Region == b.Region &&
		a.WorkerID == b.WorkerID && a.IncidentID == b.IncidentID && a.AssignmentID == b.AssignmentID &&
		bytes.Equal(da.Bytes(), db.Bytes())
}

// assignmentOf decodes an assignment event's data.
func assignmentOf(t *testing.T, e wireEvent) dispatch.Assignment {
	t.Helper()
	var a dispatch.Assignment
	if err := json.Unmarshal(e.Data, &a); err != nil {
		t.Fatalf("event %d (%s): %v", e.Seq, e.Type, err)
	}
	return a
}

// checkAssignments replays the log: every assignment moves only as the
// state machine allows (so it ends at most once), and no worker ever holds
// two active assignments. It returns each assignment's states in order.
func checkAssignments(t *testing.T, log []wireEvent) map[string][]dispatch.Assignment {
	t.Helper()
	hist := map[string][]dispatch.Assignment{}
	active := map[string]map[string]bool{} // worker -> active assignment ids
	for _, e := range log {
		if !strings.HasPrefix(e.Type, "assignment.") {
			continue
		}
		a := assignmentOf(t, e)
		prev := hist[a.ID]
		switch {
		case len(prev) == 0 && a.State != dispatch.StateOffered && a.State != dispatch.StateAccepted:
			t.Errorf("seq %d: assignment %s starts in %s", e.Seq, a.ID, a.State)
		case len(prev) > 0 && !dispatch.CanMove(prev[len(prev)-1].State, a.State):
			t.Errorf("seq %d: assignment %s moves %s -> %s", e.Seq, a.ID, prev[len(prev)-1].State, a.State)
		}
		hist[a.ID] = append(prev, a)
		if active[a.WorkerID] == nil {
			active[a.WorkerID] = map[string]bool{}
		}
		if a.State.Active() {
			active[a.WorkerID][a.ID] = true
		} else {
			delete(active[a.WorkerID], a.ID)
		}
		if n := len(active[a.WorkerID]); n > 1 {
			t.Errorf("seq %d: worker %s holds %d active assignments %v", e.Seq, a.WorkerID, n, active[a.WorkerID])
		}
	}
	return hist
}

// TestNodeKilledMidSurge: three nodes on one Redis; clients stream from
// node A; a surge of incidents goes to all three; A is killed with
// SIGKILL in the middle. The clients resume on B and miss nothing and get
// nothing twice, the offers A had made and nobody answered expire exactly
// once (by the other nodes), and no worker ever holds two active
// assignments.
func TestNodeKilledMidSurge(t *testing.T) {
	const (
		workers    = 24
		responsive = 6  // W00..W05 stream and accept every offer; the rest never answer
		perNode    = 10 // surge incidents sent to each node
	)
	bin := dispatchdBinary(t)
	srv := redistest.Start(t, "--appendonly", "yes", "--dir", t.TempDir())
	url := "redis://" + srv.Addr() + "/0?dial_timeout=1s&read_timeout=3s&max_retries=1"
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

	// Offers A makes itself, to workers who never answer: incidents on A
	// right where silent workers stand, before any surge.
	var silentIncidents []string
	for _, i := range []int{12, 18} {
		w := rosterWorker(i)["position"].(map[string]float64)
		var inc dispatch.Incident
		if err := json.Unmarshal(mustAPI(t, http.StatusCreated, "POST", a.base()+"/api/v1/incidents", coords[0],
			incidentAt(w["lat"], w["lng"], "before the surge")), &inc); err != nil {
			t.Fatal(err)
		}
		silentIncidents = append(silentIncidents, inc.ID)
	}
	var silentOffers []string
	waitUntil(t, "offers on A's incidents", 5*time.Second, func() bool {
		silentOffers = silentOffers[:0]
		evs, _, _, _ := coord.snapshot()
		for _, e := range evs {
			if e.Type == dispatch.EventOffered && slices.Contains(silentIncidents, e.IncidentID) {
				silentOffers = append(silentOffers, e.AssignmentID)
			}
		}
		return len(silentOffers) == len(silentIncidents)
	})

	// The surge: each node gets its share over about 4 s; A is killed
	// about 2.6 s in, after the first joint batch window has closed.
	var (
		wg                sync.WaitGroup
		created, refused  atomic.Int64
		dead              atomic.Bool
		killAt            time.Time
		surgeStart        = time.Now()
		surgeInterval     = 400 * time.Millisecond
		killAfter         = 2600 * time.Millisecond
		postsAfterKillOK  atomic.Int64
		unexpectedAnswers sync.Map
	)
	for n, node := range nodes {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(n), 7))
			for i := range perNode {
				time.Sleep(time.Until(surgeStart.Add(time.Duration(i) * surgeInterval)))
				if node == a && dead.Load() {
					refused.Add(1)
					continue
				}
				body := incidentAt(38.80+rng.Float64()*0.06, 115.40+rng.Float64()*0.10, fmt.Sprintf("surge %s-%d", node.name, i))
				code, resp := api("POST", node.base()+"/api/v1/incidents", coords[1], body)
				switch {
				case code == http.StatusCreated:
					created.Add(1)
					if dead.Load() {
						postsAfterKillOK.Add(1)
					}
				case node == a && (code == 0 || dead.Load()):
					refused.Add(1) // A died under this request: its outcome shows in the log
				default:
					unexpectedAnswers.Store(fmt.Sprintf("%s-%d", node.name, i), fmt.Sprintf("%d %s", code, resp))
				}
			}
		})
	}
	time.Sleep(time.Until(surgeStart.Add(killAfter)))
	target.Store(b) // clients that lose A come back on B
	killAt = time.Now()
	dead.Store(true)
	a.kill()
	wg.Wait()
	unexpectedAnswers.Range(func(k, v any) bool {
		t.Errorf("surge incident %v: got %v, want 201", k, v)
		return true
	})
	if postsAfterKillOK.Load() == 0 {
		t.Error("no incident was logged after A died")
	}

	// Every offer made before A died ends, at the latest its timeout plus
	// the other nodes' grace after A's death.
	var pending []string
	waitUntil(t, "offers made before the kill to end", offerTimeout+foreignGrace+10*time.Second, func() bool {
		evs, _, _, _ := coord.snapshot()
		open := map[string]bool{}
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
		pending = pending[:0]
		for id := range open {
			pending = append(pending, id)
		}
		return len(pending) == 0
	})

	// The whole log, from B, against what each client received.
	code, body := httpStatus(b.base() + "/readyz")
	var ready struct{ Seq uint64 }
	if err := json.Unmarshal(body, &ready); code != http.StatusOK || err != nil {
		t.Fatalf("readyz on B: %d %s", code, body)
	}
	head := ready.Seq
	log := readLog(t, b, coords[0], head)
	for _, c := range clients[:len(coords)] {
		waitUntil(t, c.name+" to reach the head", 10*time.Second, func() bool { return c.lastSeq() >= head })
	}
	for _, c := range clients {
		evs, live, resets, conns := c.snapshot()
		if len(resets) > 0 {
			t.Errorf("%s: got resets %+v, want none", c.name, resets)
		}
		if conns < 2 {
			t.Errorf("%s: %d connections, want a reconnect after A died", c.name, conns)
		}
		if c.worker == "" {
			checkContiguous(t, c.name, evs)
			for i := range head {
				if !sameEvent(evs[i], log[i]) {
					t.Fatalf("%s: event %d differs from the log:\n got %+v\nwant %+v", c.name, i+1, evs[i], log[i])
				}
			}
			continue
		}
		// A worker sees its own events: all of them up to its last live
		// frame, none twice, none of anybody else's.
		var want []wireEvent
		for _, e := range log {
			if e.WorkerID == c.worker {
				want = append(want, e)
			}
		}
		var got []wireEvent
		for _, e := range evs {
			if e.Seq <= head {
				got = append(got, e)
			}
		}
		mustHave := 0
		for _, e := range want {
			if e.Seq <= live {
				mustHave++
			}
		}
		if len(got) < mustHave || len(got) > len(want) {
			t.Fatalf("%s: got %d events up to seq %d, want %d to %d", c.name, len(got), head, mustHave, len(want))
		}
		for i := range got {
			if !sameEvent(got[i], want[i]) {
				t.Fatalf("%s: event %d is seq %d %s, want seq %d %s", c.name, i, got[i].Seq, got[i].Type, want[i].Seq, want[i].Type)
			}
		}
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
		if len(states) > 1 && states[0].State == dispatch.StateOffered && states[0].OfferedAt.Before(killAt) &&
			states[1].UpdatedAt.After(killAt) {
			openAtKill++ // answered on another node, or expired by one, after A died
		}
	}
	for _, id := range silentOffers {
		states := hist[id]
		if expired[id] != 1 || states[len(states)-1].State != dispatch.StateExpired {
			t.Errorf("offer %s that A made and nobody answered: expired %d times, states %v; want once", id, expired[id], states)
		}
	}
	for id, n := range expired {
		if n != 1 {
			t.Errorf("offer %s expired %d times", id, n)
		}
	}
	t.Logf("%d events; %d incidents logged, %d posts to A refused or cut; %d offers, %d accepted, %d expired; %d offers open when A died, each ended once since",
		len(log), created.Load()+int64(len(silentIncidents)), refused.Load(), offers, accepted, len(expired), openAtKill)
}

// waitUntil polls cond every 50 ms until it holds or d passes.
func waitUntil(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// apiError is the JSON error shape of the API.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func errorCode(b []byte) string {
	var e apiError
	if json.Unmarshal(b, &e) != nil {
		return ""
	}
	return e.Error.Code
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
