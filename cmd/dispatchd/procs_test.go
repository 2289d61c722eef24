package main

// Helpers of the process tests (multinode_test.go): a dispatchd binary,
// nodes as child processes, and calls of their API.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

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
