package redistest

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// Usage is what one server reports having spent so far, from INFO cpu and
// INFO commandstats. Benchmarks read it before and after a run and divide
// the difference by the operations: the server's own account of its cost,
// which a client-side timer cannot separate from the network and the
// scheduler.
type Usage struct {
	CPU      float64                 // used_cpu_sys + used_cpu_user, seconds, all threads
	Commands map[string]CommandUsage // by name as INFO spells it: "evalsha", "client|setname"
}

// CommandUsage is one command's calls and the microseconds they ran.
type CommandUsage struct{ Calls, Usec float64 }

// ReadUsage sends INFO cpu commandstats through rdb. On a cluster client
// INFO goes to any one node, so give it a client of the one server.
func ReadUsage(tb testing.TB, rdb redis.UniversalClient) Usage {
	tb.Helper()
	info, err := rdb.Info(context.Background(), "cpu", "commandstats").Result()
	if err != nil {
		tb.Fatalf("redistest: INFO: %v", err)
	}
	return parseUsage(info)
}

func parseUsage(info string) Usage {
	u := Usage{Commands: map[string]CommandUsage{}}
	for _, line := range strings.Split(info, "\r\n") {
		k, v, _ := strings.Cut(line, ":")
		switch {
		case k == "used_cpu_sys" || k == "used_cpu_user":
			f, _ := strconv.ParseFloat(v, 64)
			u.CPU += f
		case strings.HasPrefix(k, "cmdstat_"):
			var c CommandUsage
			for _, kv := range strings.Split(v, ",") {
				name, val, _ := strings.Cut(kv, "=")
				f, _ := strconv.ParseFloat(val, 64)
				switch name {
				case "calls":
					c.Calls = f
				case "usec":
					c.Usec = f
				}
			}
			u.Commands[strings.TrimPrefix(k, "cmdstat_")] = c
		}
	}
	return u
}

// Since is u minus an earlier reading of the same server.
func (u Usage) Since(before Usage) Usage {
	d := Usage{CPU: u.CPU - before.CPU, Commands: map[string]CommandUsage{}}
	for name, c := range u.Commands {
		b := before.Commands[name]
		d.Commands[name] = CommandUsage{Calls: c.Calls - b.Calls, Usec: c.Usec - b.Usec}
	}
	return d
}

// Total sums every command's calls and microseconds.
func (u Usage) Total() CommandUsage {
	var t CommandUsage
	for _, c := range u.Commands {
		t.Calls += c.Calls
		t.Usec += c.Usec
	}
	return t
}
