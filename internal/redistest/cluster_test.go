package redistest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestClusterMasterOfAndRestart: three masters serve every slot, MasterOf
// names the one that holds a key, and that master restarted with AOF
// comes back with the key and its slots.
func TestClusterMasterOfAndRestart(t *testing.T) {
	c := StartCluster(t, 3, "--appendonly", "yes", "--appendfsync", "always")
	ctx := context.Background()
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	defer rdb.Close()

	keys := []string{"{a}:k", "{b}:k", "{c}:k", "{d}:k", "{e}:k", "{f}:k"}
	holders := map[string]bool{}
	for _, k := range keys {
		if err := rdb.Set(ctx, k, "v", 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
		m := c.MasterOf(k)
		holders[m.Addr()] = true
		// Asked directly, without redirects: the key is there.
		direct := redis.NewClient(&redis.Options{Addr: m.Addr()})
		n, err := direct.Exists(ctx, k).Result()
		direct.Close()
		if err != nil || n != 1 {
			t.Errorf("%s on %s: got exists %d (%v), want 1", k, m.Addr(), n, err)
		}
	}
	if len(holders) < 2 {
		t.Errorf("keys on %d masters, want them spread over at least 2", len(holders))
	}

	m := c.MasterOf(keys[0])
	m.Restart()
	c.WaitOK()
	if got := c.MasterOf(keys[0]); got != m {
		t.Errorf("after restart: %s served by %s, want %s", keys[0], got.Addr(), m.Addr())
	}
	if got, err := rdb.Get(ctx, keys[0]).Result(); err != nil || got != "v" {
		t.Errorf("GET %s after restart: got %q (%v), want v", keys[0], got, err)
	}
}

func TestClusterWithoutCLIFails(t *testing.T) {
	srv, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is required and was not found: %v", err)
	}
	dir := t.TempDir()
	if err := os.Symlink(srv, filepath.Join(dir, "redis-server")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir) // redis-server but no redis-cli
	tb := &fatalTB{TB: t}
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(fatalled); !ok {
					panic(r)
				}
			}
		}()
		StartCluster(tb, 3)
	}()
	if !strings.Contains(tb.msg, "redis-cli is required") {
		t.Errorf("got Fatalf %q, want it to say redis-cli is required", tb.msg)
	}
}

func TestParseUsage(t *testing.T) {
	info := "# CPU\r\nused_cpu_sys:1.500000\r\nused_cpu_user:2.250000\r\nused_cpu_sys_children:9.0\r\n\r\n" +
		"# Commandstats\r\n" +
		"cmdstat_evalsha:calls=10,usec=400,usec_per_call=40.00,rejected_calls=0,failed_calls=1\r\n" +
		"cmdstat_client|setname:calls=3,usec=6,usec_per_call=2.00,rejected_calls=0,failed_calls=0\r\n"
	u := parseUsage(info)
	tests := []struct {
		name string
		got  float64
		want float64
	}{
		{"cpu is sys+user of the server, not its children", u.CPU, 3.75},
		{"evalsha calls", u.Commands["evalsha"].Calls, 10},
		{"evalsha usec", u.Commands["evalsha"].Usec, 400},
		{"subcommand by its INFO name", u.Commands["client|setname"].Calls, 3},
		{"total calls", u.Total().Calls, 13},
		{"total usec", u.Total().Usec, 406},
		{"since itself", u.Since(u).Total().Calls, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
}

func TestReadUsageCountsCommands(t *testing.T) {
	s := Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr()})
	defer rdb.Close()
	ctx := context.Background()
	before := ReadUsage(t, rdb)
	for range 25 {
		if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	d := ReadUsage(t, rdb).Since(before)
	if got := d.Commands["set"].Calls; got != 25 {
		t.Errorf("SET calls: got %v, want 25", got)
	}
	if d.CPU < 0 {
		t.Errorf("CPU went back: %v", d.CPU)
	}
}
