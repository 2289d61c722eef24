package redistest

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterTimeout bounds creating a cluster, and waiting for it to be ok.
const clusterTimeout = 30 * time.Second

// Cluster is a Redis Cluster of masters without replicas, each a Server
// on loopback. Without replicas nothing fails over: a master that is
// killed takes its slots down until it is restarted, which is what a test
// of an outage of one shard wants.
type Cluster struct {
	tb      testing.TB
	masters []*Server
}

// StartCluster starts masters (at least 3) redis-servers with cluster mode
// on, joins them with `redis-cli --cluster create`, and returns once every
// master reports cluster_state:ok. args go to every server (e.g.
// "--appendonly", "yes"); each master gets a directory of its own, so args
// must not set --dir. The servers are killed when the test ends.
func StartCluster(tb testing.TB, masters int, args ...string) *Cluster {
	tb.Helper()
	if masters < 3 {
		tb.Fatalf("redistest: a cluster needs at least 3 masters, got %d", masters)
	}
	// Both binaries are looked up first: a missing one fails the test
	// before anything starts.
	if _, err := exec.LookPath("redis-server"); err != nil {
		tb.Fatalf("redistest: redis-server is required and was not found: %v", err)
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		tb.Fatalf("redistest: redis-cli is required and was not found: %v", err)
	}
	c := &Cluster{tb: tb}
	for range masters {
		dir := tb.TempDir()
		own := append([]string(nil), args...)
		own = append(own,
			"--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(dir, "nodes.conf"),
			// The default bus port is port+10000, which may be taken or
			// beyond 65535; name a free one.
			"--cluster-port", strconv.Itoa(freePort(tb)),
			"--dir", dir)
		c.masters = append(c.masters, Start(tb, own...))
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
	defer cancel()
	create := append([]string{"--cluster", "create"}, c.Addrs()...)
	create = append(create, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, create...).CombinedOutput(); err != nil {
		tb.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	c.WaitOK()
	return c
}

// Addrs are the masters' host:port, seed addresses for a cluster client.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.masters))
	for i, s := range c.masters {
		out[i] = s.Addr()
	}
	return out
}

// Masters are the servers, in the order of Addrs.
func (c *Cluster) Masters() []*Server { return c.masters }

// WaitOK waits until every running master reports cluster_state:ok. A
// restarted master refuses commands (CLUSTERDOWN) for about two seconds
// after it starts, so a test that restarts one may wait for it here.
func (c *Cluster) WaitOK() {
	c.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
	defer cancel()
	for _, a := range c.Addrs() {
		rdb := redis.NewClient(&redis.Options{Addr: a, MaxRetries: -1})
		for {
			info, err := rdb.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if ctx.Err() != nil {
				rdb.Close()
				c.tb.Fatalf("redistest: cluster node %s not ok after %v: %v %s", a, clusterTimeout, err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
		rdb.Close()
	}
}

// MasterOf returns the master that serves key's hash slot.
func (c *Cluster) MasterOf(key string) *Server {
	c.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range c.masters {
		rdb := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
		owner, err := slotOwner(ctx, rdb, key)
		rdb.Close()
		if err != nil {
			continue // this one may be down; ask another
		}
		for _, m := range c.masters {
			if m.Addr() == owner {
				return m
			}
		}
		c.tb.Fatalf("redistest: slot of %q is served by %s, not one of %v", key, owner, c.Addrs())
	}
	c.tb.Fatalf("redistest: no master answered CLUSTER SLOTS")
	return nil
}

func slotOwner(ctx context.Context, rdb *redis.Client, key string) (string, error) {
	slot, err := rdb.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		return "", err
	}
	ranges, err := rdb.ClusterSlots(ctx).Result()
	if err != nil {
		return "", err
	}
	for _, r := range ranges {
		if int64(r.Start) <= slot && slot <= int64(r.End) && len(r.Nodes) > 0 {
			return r.Nodes[0].Addr, nil // the first node of a range is its master
		}
	}
	return "", fmt.Errorf("slot %d of %q is not served", slot, key)
}
