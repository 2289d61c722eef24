package uitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The real server is the dispatchd binary itself, built once per test run
// and started as a child process on a loopback port with its own data
// directory, so a restart is a real process restart over the same files.
var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	binDir    string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// dispatchdBinary builds cmd/dispatchd once per run, with the pages built
// into web/ui/dist embedded. UITEST_DISPATCHD names an already built binary
// to use instead (it must embed the same pages).
func dispatchdBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("UITEST_DISPATCHD"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "uitest-bin-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "dispatchd")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/jjj-social-work/dispatch/cmd/dispatchd").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build dispatchd: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

type realServer struct {
	t    *testing.T
	bin  string
	dir  string
	cfg  string
	addr string

	cmd  *exec.Cmd
	done chan error
	log  *bytes.Buffer
}

// freeAddr picks a loopback port that is free now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startRealServer runs dispatchd with its data in dir on addr.
func startRealServer(t *testing.T, dir, addr string) *realServer {
	t.Helper()
	return startRealServerWith(t, dir, addr, nil)
}

// startRealServerWith is startRealServer with extra config file entries.
func startRealServerWith(t *testing.T, dir, addr string, extra map[string]any) *realServer {
	t.Helper()
	s := &realServer{t: t, bin: dispatchdBinary(t), dir: dir, addr: addr, cfg: filepath.Join(dir, "dispatchd.json")}
	policy, err := filepath.Abs(filepath.Join("..", "..", "configs", "policy.json"))
	if err != nil {
		t.Fatal(err)
	}
	conf := map[string]any{"listen": addr, "data_dir": filepath.Join(dir, "data"), "demo": false,
		"log_level": "warn", "policy_file": policy}
	for k, v := range extra {
		conf[k] = v
	}
	cfg, _ := json.Marshal(conf)
	if err := os.WriteFile(s.cfg, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *realServer) url() string { return "http://" + s.addr }

func (s *realServer) start() {
	s.t.Helper()
	s.log = &bytes.Buffer{}
	s.cmd = exec.Command(s.bin, "serve", "-config", s.cfg)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start dispatchd: %v", err)
	}
	s.done = make(chan error, 1)
	go func(c *exec.Cmd, done chan error) { done <- c.Wait() }(s.cmd, s.done)
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(s.url() + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-s.done:
			s.t.Fatalf("dispatchd exited at start: %v\n%s", err, s.log)
		default:
		}
		if time.Now().After(deadline) {
			s.stop()
			s.t.Fatalf("dispatchd not healthy after 30 s\n%s", s.log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop ends the child process it started (SIGTERM, then SIGKILL after a
// grace period) and waits for it.
func (s *realServer) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}

// kill ends the process at once (SIGKILL), as a crash would: nothing is
// drained, whatever was acknowledged must already be on disk.
func (s *realServer) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// restart stops the server and starts it again on the same address and
// data directory.
func (s *realServer) restart() {
	s.t.Helper()
	s.stop()
	s.start()
}

// token issues a credential with the dispatchd CLI, as an administrator
// would; the running server picks it up from the credentials file.
func (s *realServer) token(args ...string) string {
	s.t.Helper()
	out, err := exec.Command(s.bin, append([]string{"token", "issue", "-config", s.cfg}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("token issue %v: %v\n%s", args, err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// tokenID issues a credential and also returns its id, for revoking it.
func (s *realServer) tokenID(args ...string) (token, id string) {
	s.t.Helper()
	out, err := exec.Command(s.bin, append([]string{"token", "issue", "-config", s.cfg}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("token issue %v: %v\n%s", args, err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	for _, l := range lines {
		if v, ok := strings.CutPrefix(l, "id:"); ok {
			id = strings.TrimSpace(v)
		}
	}
	if id == "" {
		s.t.Fatalf("token issue %v: no id in %s", args, out)
	}
	return strings.TrimSpace(lines[len(lines)-1]), id
}

// revoke withdraws a credential with the CLI, as an administrator would.
func (s *realServer) revoke(id string) {
	s.t.Helper()
	if out, err := exec.Command(s.bin, "token", "revoke", "-config", s.cfg, id).CombinedOutput(); err != nil {
		s.t.Fatalf("token revoke %s: %v\n%s", id, err, out)
	}
}
