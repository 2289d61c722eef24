package redistest

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// do sends one command in RESP and returns the first reply line.
func do(t *testing.T, addr string, args ...string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(line, "$") && line != "$-1\r\n" {
		line, err = r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
	}
	return strings.TrimSuffix(line, "\r\n")
}

func TestStartBindsLoopbackWithoutPersistence(t *testing.T) {
	s := Start(t)
	if !strings.HasPrefix(s.Addr(), "127.0.0.1:") {
		t.Errorf("got addr %s, want 127.0.0.1:port", s.Addr())
	}
	if got := do(t, s.Addr(), "SET", "k", "v"); got != "+OK" {
		t.Errorf("SET: got %q, want +OK", got)
	}
	tests := []struct{ param, want string }{
		{"bind", "127.0.0.1"},
		{"save", ""},
		{"appendonly", "no"},
	}
	for _, tt := range tests {
		t.Run(tt.param, func(t *testing.T) {
			// CONFIG GET replies with a two-element array: name, value.
			c, err := net.Dial("tcp", s.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			fmt.Fprintf(c, "CONFIG GET %s\r\n", tt.param)
			r := bufio.NewReader(c)
			var lines []string
			for range 5 {
				l, err := r.ReadString('\n')
				if err != nil {
					t.Fatal(err)
				}
				lines = append(lines, strings.TrimSuffix(l, "\r\n"))
			}
			if got := lines[4]; got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestKillAndRestart(t *testing.T) {
	dir := t.TempDir()
	s := Start(t, "--dir", dir, "--appendonly", "yes", "--appendfsync", "always")
	if got := do(t, s.Addr(), "SET", "k", "kept"); got != "+OK" {
		t.Fatalf("SET: got %q, want +OK", got)
	}
	s.Kill()
	if c, err := net.DialTimeout("tcp", s.Addr(), 200*time.Millisecond); err == nil {
		c.Close()
		t.Fatalf("dial after Kill: got a connection, want refused")
	}
	s.Kill() // a second Kill is harmless
	s.Restart()
	if got := do(t, s.Addr(), "GET", "k"); got != "kept" {
		t.Errorf("GET after restart: got %q, want %q (AOF with fsync always)", got, "kept")
	}
}

// fatalTB records Fatalf instead of ending the test, to observe Start's
// behaviour without redis-server.
type fatalTB struct {
	testing.TB
	msg string
}

type fatalled struct{}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(fatalled{})
}

func (f *fatalTB) Helper() {}

func TestMissingServerFails(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	tb := &fatalTB{TB: t}
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(fatalled); !ok {
					panic(r)
				}
			}
		}()
		Start(tb)
	}()
	if !strings.Contains(tb.msg, "redis-server is required") {
		t.Errorf("got Fatalf %q, want it to say redis-server is required", tb.msg)
	}
}
