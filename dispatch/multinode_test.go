package dispatch_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/jjj-social-work/dispatch/dispatch/redisstore"
	"github.com/jjj-social-work/dispatch/geo"
	"github.com/jjj-social-work/dispatch/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// Several engines ("nodes") on real Redis, each with its own store client,
// memory and feed. Every test runs on one redis-server and on a local
// three-master Redis Cluster, where the client finds the shard of the
// store's keys from the slot map and follows MOVED replies.

// mnPrefix is the store's key prefix in these tests.
const mnPrefix = "mn"

// redisDeployment is what a test runs its nodes on.
type redisDeployment struct {
	addrs []string // seeds for a universal client: one is a server, several a Cluster
	// home is the server holding the store's keys (one hash slot, by the
	// prefix's hash tag): the one an outage test kills and restarts.
	home *redistest.Server
}

// startRedis starts a deployment for one test, with extra server args
// (persistence) for each server.
type startRedis func(t *testing.T, args ...string) redisDeployment

// deployments are the kinds of Redis every test runs on; each test starts
// its own.
var deployments = []struct {
	name  string
	start startRedis
}{
	{"standalone", func(t *testing.T, args ...string) redisDeployment {
		srv := redistest.Start(t, append([]string{"--dir", t.TempDir()}, args...)...)
		return redisDeployment{addrs: []string{srv.Addr()}, home: srv}
	}},
	{"cluster", func(t *testing.T, args ...string) redisDeployment {
		c := redistest.StartCluster(t, 3, args...)
		// Every key of the store carries the hash tag {prefix}.
		return redisDeployment{addrs: c.Addrs(), home: c.MasterOf("{" + mnPrefix + "}:seq")}
	}},
}

// onEveryRedis runs test as a subtest per deployment.
func onEveryRedis(t *testing.T, test func(*testing.T, startRedis)) {
	for _, d := range deployments {
		t.Run(d.name, func(t *testing.T) { test(t, d.start) })
	}
}

type fleet struct {
	t     *testing.T
	redis redisDeployment
	pol   dispatch.Policy
	clock dispatch.Clock
	nodes []*node
}

type node struct {
	e     *dispatch.Engine
	store *redisstore.Store
	stop  context.CancelFunc
	done  chan error
}

func newFleet(t *testing.T, rd redisDeployment, n int, pol dispatch.Policy, clock dispatch.Clock) *fleet {
	t.Helper()
	c := &fleet{t: t, redis: rd, pol: pol, clock: clock}
	for range n {
		c.nodes = append(c.nodes, c.start())
	}
	return c
}

// start opens a store and an engine on it and runs the engine until the
// test ends or kill.
func (c *fleet) start() *node {
	c.t.Helper()
	ctx := context.Background()
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: c.redis.addrs})
	s, err := redisstore.Open(ctx, redisstore.Options{Client: rdb, Prefix: mnPrefix})
	if err != nil {
		rdb.Close()
		c.t.Fatalf("open store: %v", err)
	}
	e, err := dispatch.New(ctx, dispatch.Options{Store: s, Policy: &c.pol, Clock: c.clock})
	if err != nil {
		c.t.Fatalf("new engine: %v", err)
	}
	rctx, stop := context.WithCancel(ctx)
	n := &node{e: e, store: s, stop: stop, done: make(chan error, 1)}
	go func() { n.done <- e.Run(rctx) }()
	c.t.Cleanup(func() {
		n.kill()
		s.Close()
		rdb.Close() // the store closes only clients it built
	})
	return n
}

// kill stops the node's engine abruptly: no more ticks, no more feed.
func (n *node) kill() {
	if n.stop != nil {
		n.stop()
		<-n.done
		n.stop = nil
	}
}

// storeSeq is the last seq in the log.
func (c *fleet) storeSeq() uint64 {
	c.t.Helper()
	var last uint64
	for {
		evs, err := c.nodes[0].store.EventsAfter(context.Background(), last, 0)
		if err != nil {
			c.t.Fatalf("events: %v", err)
		}
		if len(evs) == 0 {
			return last
		}
		last = evs[len(evs)-1].Seq
	}
}

// settle waits until every live node has applied the whole log.
func (c *fleet) settle(live ...*node) {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		want, behind := c.storeSeq(), 0
		for _, n := range live {
			if n.e.LastSeq() != want {
				behind++
			}
		}
		if behind == 0 {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%d nodes still behind seq %d after 10s", behind, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitReady waits until the store's server answers again after a restart.
func (c *fleet) waitReady(d time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := c.nodes[0].store.Ready(context.Background())
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("store not ready %v after a restart: %v", d, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// log returns every event.
func (c *fleet) log() []dispatch.Event {
	c.t.Helper()
	var out []dispatch.Event
	for {
		var after uint64
		if len(out) > 0 {
			after = out[len(out)-1].Seq
		}
		evs, err := c.nodes[0].store.EventsAfter(context.Background(), after, 0)
		if err != nil {
			c.t.Fatalf("events: %v", err)
		}
		if len(evs) == 0 {
			return out
		}
		out = append(out, evs...)
	}
}

// checkLog replays the log and fails on a worker holding two active
// assignments, a slot with two active assignments, or an assignment
// leaving a state twice. It returns how many assignments ended in each
// final event type, by assignment id.
func checkNodesLog(t *testing.T, evs []dispatch.Event) map[string]map[string]int {
	t.Helper()
	workerHolds := map[string]string{} // worker -> active assignment
	slotHolds := map[string]string{}   // incident/slot -> active assignment
	state := map[string]dispatch.State{}
	ends := map[string]map[string]int{}
	for i, ev := range evs {
		if i > 0 && ev.Seq != evs[i-1].Seq+1 {
			t.Fatalf("seq %d follows %d", ev.Seq, evs[i-1].Seq)
		}
		if ev.AssignmentID == "" || len(ev.Data) == 0 || ev.Type[:len("assignment.")] != "assignment." {
			continue
		}
		var a dispatch.Assignment
		if err := json.Unmarshal(ev.Data, &a); err != nil {
			t.Fatalf("event %d: %v", ev.Seq, err)
		}
		a.ID, a.IncidentID, a.WorkerID = ev.AssignmentID, ev.IncidentID, ev.WorkerID // steps name them in the event
		slot := fmt.Sprintf("%s/%d", a.IncidentID, a.Slot)
		prev, seen := state[a.ID]
		switch {
		case ev.Type == dispatch.EventOffered:
			if seen {
				t.Fatalf("event %d: assignment %s offered twice", ev.Seq, a.ID)
			}
			if h := workerHolds[a.WorkerID]; h != "" {
				t.Fatalf("event %d: worker %s offered %s while holding %s", ev.Seq, a.WorkerID, a.ID, h)
			}
			if h := slotHolds[slot]; h != "" {
				t.Fatalf("event %d: slot %s offered as %s while %s is active", ev.Seq, slot, a.ID, h)
			}
			workerHolds[a.WorkerID], slotHolds[slot] = a.ID, a.ID
		case !seen || !dispatch.CanMove(prev, a.State):
			t.Fatalf("event %d: %s moves %s from %q to %s", ev.Seq, ev.Type, a.ID, prev, a.State)
		case !a.State.Active():
			delete(workerHolds, a.WorkerID)
			delete(slotHolds, slot)
			if ends[a.ID] == nil {
				ends[a.ID] = map[string]int{}
			}
			ends[a.ID][ev.Type]++
		}
		state[a.ID] = a.State
	}
	return ends
}

// snapshotJSON is a node's full view: incidents, assignments and every
// on-duty worker with phone and position.
func snapshotJSON(t *testing.T, e *dispatch.Engine) string {
	t.Helper()
	s, err := e.Snapshot(context.Background(), dispatch.SnapshotOptions{Workers: true})
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkConverged compares every live node's snapshot with the others and
// with a node started fresh from the store.
func (c *fleet) checkConverged(live ...*node) {
	c.t.Helper()
	c.settle(live...)
	fresh := c.start()
	c.settle(append(live, fresh)...)
	want := snapshotJSON(c.t, fresh.e)
	for i, n := range live {
		if got := snapshotJSON(c.t, n.e); got != want {
			at := 0
			for at < min(len(got), len(want)) && got[at] == want[at] {
				at++
			}
			from := max(0, at-600)
			c.t.Fatalf("node %d differs from the store at byte %d:\ngot  …%.1200s\nwant …%.1200s", i, at, got[from:], want[from:])
		}
	}
}

// roster is n workers spread around Beijing, on duty.
func (c *fleet) roster(n int) []string {
	c.t.Helper()
	ctx := context.Background()
	in := make([]dispatch.WorkerInput, n)
	ids := make([]string, n)
	for i := range in {
		p := offset(dongcheng, float64(i%10)-5, float64(i/10)-5)
		ids[i] = fmt.Sprintf("w%03d", i)
		in[i] = dispatch.WorkerInput{ID: ids[i], Name: "worker " + ids[i], Phone: "+86 138 0000 0000",
			HomeRegion: "BJ", Skills: []string{"crisis_intervention"}, Position: &p}
	}
	if err := c.nodes[0].e.UpsertWorkers(ctx, in); err != nil {
		c.t.Fatal(err)
	}
	for i, id := range ids {
		// Through every node: each must know the roster from the feed or
		// by rereading the worker.
		if err := c.nodes[i%len(c.nodes)].e.SetDuty(ctx, id, true); err != nil {
			c.t.Fatalf("set duty %s: %v", id, err)
		}
	}
	return ids
}

func crisisIncident(p geo.Point, count int) dispatch.IncidentInput {
	return dispatch.IncidentInput{Type: "flood", Severity: dispatch.SeverityIII, Position: p,
		Needs: []dispatch.NeedInput{{Skill: "crisis_intervention", Count: count}}}
}

// answerSome has every node answer offers it knows of: accept or decline
// at random. Losing a race to another node is expected.
func answerSome(t *testing.T, e *dispatch.Engine, rng *rand.Rand) {
	t.Helper()
	ctx := context.Background()
	for _, inc := range e.Incidents("", true) {
		as, err := e.IncidentAssignments(inc.ID)
		if err != nil {
			continue
		}
		for _, a := range as {
			if a.State != dispatch.StateOffered || rng.IntN(2) == 0 {
				continue
			}
			err := e.Answer(ctx, a.WorkerID, a.ID, rng.IntN(4) != 0, "")
			if err != nil && !errors.Is(err, dispatch.ErrInvalidTransition) && !errors.Is(err, dispatch.ErrConflict) &&
				!errors.Is(err, dispatch.ErrUnavailable) {
				t.Errorf("answer %s: %v", a.ID, err)
			}
		}
	}
}

// TestNodesConverge: three nodes take incidents, answers and position
// updates at once. No worker or slot is ever held twice (checked from the
// log), every node ends with the same state as the store, and every
// node's feed saw the same events in the same order.
func TestNodesConverge(t *testing.T) { onEveryRedis(t, testNodesConverge) }

func testNodesConverge(t *testing.T, start startRedis) {
	pol := dispatch.DefaultPolicy() // joint batches on: a burst queues slots
	c := newFleet(t, start(t), 3, pol, nil)
	workers := c.roster(60)

	// Each node's own feed, from the start.
	feeds := make([][]dispatch.Event, len(c.nodes))
	fctx, stopFeeds := context.WithCancel(context.Background())
	var fwg sync.WaitGroup
	for i, n := range c.nodes {
		fwg.Add(1)
		go func() {
			defer fwg.Done()
			_ = n.store.Follow(fctx, 0, func(evs []dispatch.Event) { feeds[i] = append(feeds[i], evs...) })
		}()
	}

	var wg sync.WaitGroup
	for i, n := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			ctx := context.Background()
			for k := range 12 {
				p := offset(dongcheng, rng.Float64()*8-4, rng.Float64()*8-4)
				if _, err := n.e.CreateIncident(ctx, crisisIncident(p, 1+k%2)); err != nil {
					t.Errorf("node %d: create incident: %v", i, err)
				}
				w := workers[rng.IntN(len(workers))]
				if err := n.e.UpdatePosition(ctx, w, offset(dongcheng, rng.Float64()*8-4, 0)); err != nil {
					t.Errorf("node %d: position: %v", i, err)
				}
				answerSome(t, n.e, rng)
			}
		}()
	}
	wg.Wait()
	// Let the joint batches close, then answer what they offered.
	deadline := time.Now().Add(8 * time.Second)
	for queued := true; queued; {
		queued = false
		for _, n := range c.nodes {
			for _, inc := range n.e.Incidents("", true) {
				for _, s := range inc.Slots {
					queued = queued || s.Queued
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("slots still queued for a joint batch after 8s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i, n := range c.nodes {
		answerSome(t, n.e, rand.New(rand.NewPCG(uint64(i), 8)))
	}

	c.checkConverged(c.nodes...)
	evs := c.log()
	checkNodesLog(t, evs)
	stopFeeds()
	fwg.Wait()
	for i, f := range feeds {
		if len(f) < len(evs)-1 {
			t.Fatalf("node %d's feed: got %d events, want %d", i, len(f), len(evs))
		}
		for j := range f {
			if f[j].Seq != evs[j].Seq || f[j].Type != evs[j].Type || f[j].AssignmentID != evs[j].AssignmentID {
				t.Fatalf("node %d's feed: event %d is %d %s, want %d %s", i, j, f[j].Seq, f[j].Type, evs[j].Seq, evs[j].Type)
			}
		}
	}
	t.Logf("%d events, %d incidents", len(evs), len(c.nodes[0].e.Incidents("", false)))
}

// TestDeadNodeOffersExpireOnce: a node dies in the middle of a surge, with
// offers pending and slots queued for a joint batch. The survivors solve
// its batch and expire each of its offers exactly once, though both run
// their timers.
func TestDeadNodeOffersExpireOnce(t *testing.T) { onEveryRedis(t, testDeadNodeOffersExpireOnce) }

func testDeadNodeOffersExpireOnce(t *testing.T, start startRedis) {
	clock := newFakeClock()
	pol := dispatch.DefaultPolicy()
	c := newFleet(t, start(t), 3, pol, clock)
	c.roster(30)
	ctx := context.Background()
	dead, live := c.nodes[2], c.nodes[:2]

	var incs []string
	for k := range 6 { // the third opens a joint batch: the rest queue
		inc, err := dead.e.CreateIncident(ctx, crisisIncident(offset(dongcheng, float64(k), 0), 1))
		if err != nil {
			t.Fatal(err)
		}
		incs = append(incs, inc.ID)
	}
	dead.kill()
	c.settle(live...)

	tickAll := func() {
		t.Helper()
		var wg sync.WaitGroup
		for _, n := range live {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := n.e.Tick(ctx); err != nil {
					t.Errorf("tick: %v", err)
				}
			}()
		}
		wg.Wait()
		c.settle(live...)
	}
	clock.Advance(pol.Batch.Window.D())
	tickAll()
	for _, id := range incs {
		inc, err := live[0].e.Incident(id)
		if err != nil {
			t.Fatal(err)
		}
		if s := inc.Slots[0]; s.Queued || s.Assignment == "" {
			t.Fatalf("incident %s: got slot %+v, want it offered by a survivor", id, s)
		}
	}
	var offered []string
	for _, ev := range c.log() {
		if ev.Type == dispatch.EventOffered {
			offered = append(offered, ev.AssignmentID)
		}
	}
	if len(offered) != len(incs) {
		t.Fatalf("got %d offers, want one per incident (%d)", len(offered), len(incs))
	}

	// Past the grace a node gives other nodes to expire their own offers.
	clock.Advance(pol.Offers.Timeout.III.D() + 5*time.Second)
	tickAll()
	ends := checkNodesLog(t, c.log())
	for _, id := range offered {
		if got := ends[id][dispatch.EventExpired]; got != 1 || len(ends[id]) != 1 {
			t.Errorf("assignment %s: got ends %v, want one %s", id, ends[id], dispatch.EventExpired)
		}
	}
	c.checkConverged(live...)
}

// TestRedisRestartMidRun: redis-server (AOF, fsync always) is killed and
// started again while three nodes take writes; on Cluster, the master
// that holds the store's keys. The nodes carry on without help; every
// acknowledged incident and answer is in every node and in the log, and
// no worker or slot was held twice.
func TestRedisRestartMidRun(t *testing.T) { onEveryRedis(t, testRedisRestartMidRun) }

func testRedisRestartMidRun(t *testing.T, start startRedis) {
	pol := dispatch.DefaultPolicy()
	pol.Batch.MinIncidents = 0
	c := newFleet(t, start(t, "--appendonly", "yes", "--appendfsync", "always"), 3, pol, nil)
	c.roster(60)

	var (
		mu       sync.Mutex
		created  []string
		accepted []string
		failed   int
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 9))
			ctx := context.Background()
			for {
				select {
				case <-stop:
					return
				default:
				}
				inc, err := n.e.CreateIncident(ctx, crisisIncident(offset(dongcheng, rng.Float64()*8-4, rng.Float64()*8-4), 1))
				mu.Lock()
				if err == nil {
					created = append(created, inc.ID)
				} else if errors.Is(err, dispatch.ErrUnavailable) {
					failed++
				} else {
					t.Errorf("node %d: create: %v", i, err)
				}
				mu.Unlock()
				for _, inc := range n.e.Incidents("", true) {
					as, _ := n.e.IncidentAssignments(inc.ID)
					for _, a := range as {
						if a.State != dispatch.StateOffered || rng.IntN(3) != 0 {
							continue
						}
						if err := n.e.Answer(ctx, a.WorkerID, a.ID, true, ""); err == nil {
							mu.Lock()
							accepted = append(accepted, a.ID)
							mu.Unlock()
						}
					}
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	time.Sleep(700 * time.Millisecond)
	atKill := c.storeSeq()
	c.redis.home.Kill() // down long enough that writes fail or wait
	if err := c.nodes[0].store.Ready(context.Background()); err == nil {
		t.Errorf("store ready with its server killed: the test killed the wrong one")
	}
	time.Sleep(400 * time.Millisecond)
	c.redis.home.Restart()
	// A restarted Cluster master refuses commands for about 2 s more.
	c.waitReady(10 * time.Second)
	time.Sleep(1200 * time.Millisecond)
	close(stop)
	wg.Wait()

	c.checkConverged(c.nodes...)
	evs := c.log()
	checkNodesLog(t, evs)
	inLog := map[string]bool{}
	for _, ev := range evs {
		switch ev.Type {
		case dispatch.EventIncidentCreated:
			inLog[ev.IncidentID] = true
		case dispatch.EventAccepted:
			inLog[ev.AssignmentID] = true
		}
	}
	for _, id := range append(created, accepted...) {
		if !inLog[id] {
			t.Errorf("acknowledged %s is not in the log", id)
		}
		for i, n := range c.nodes {
			if _, err1 := n.e.Incident(id); err1 != nil {
				if _, err2 := n.e.Assignment(id); err2 != nil {
					t.Errorf("node %d does not know acknowledged %s", i, id)
				}
			}
		}
	}
	t.Logf("%d incidents and %d accepts acknowledged, %d writes refused while redis was down, %d events (%d before)",
		len(created), len(accepted), failed, len(evs), atKill)
	if atKill == 0 || uint64(len(evs)) <= atKill+10 {
		t.Errorf("got %d events, %d before the restart: want writes on both sides of it", len(evs), atKill)
	}
}

// TestRedisLostEverything: redis-server restarts without persistence, so
// the log the nodes followed is gone. Each node notices, reloads the
// (empty) state and carries on with the others.
func TestRedisLostEverything(t *testing.T) { onEveryRedis(t, testRedisLostEverything) }

func testRedisLostEverything(t *testing.T, start startRedis) {
	pol := dispatch.DefaultPolicy()
	pol.Batch.MinIncidents = 0
	c := newFleet(t, start(t), 2, pol, nil)
	c.roster(10)
	ctx := context.Background()
	if _, err := c.nodes[1].e.CreateIncident(ctx, crisisIncident(dongcheng, 1)); err != nil {
		t.Fatal(err)
	}
	c.settle(c.nodes...)
	c.redis.home.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for _, n := range c.nodes {
		for len(n.e.Incidents("", false)) != 0 {
			if time.Now().After(deadline) {
				t.Fatal("a node still shows the lost incident after 10s")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	c.roster(10)
	inc, err := c.nodes[1].e.CreateIncident(ctx, crisisIncident(dongcheng, 2))
	if err != nil {
		t.Fatal(err)
	}
	c.checkConverged(c.nodes...)
	got, err := c.nodes[0].e.Incident(inc.ID)
	if err != nil || got.Slots[0].Assignment == "" || got.Slots[1].Assignment == "" {
		t.Fatalf("incident after the loss: got %+v (%v), want both slots offered", got.Slots, err)
	}
	checkNodesLog(t, c.log())
}

// TestRetryWithoutCandidateWritesNothing: a slot nobody can take is
// searched again by every node on its own, writing nothing until a
// worker turns up; then exactly one node offers it.
func TestRetryWithoutCandidateWritesNothing(t *testing.T) {
	onEveryRedis(t, testRetryWithoutCandidateWritesNothing)
}

func testRetryWithoutCandidateWritesNothing(t *testing.T, start startRedis) {
	clock := newFakeClock()
	pol := dispatch.DefaultPolicy()
	pol.Batch.MinIncidents = 0
	c := newFleet(t, start(t), 2, pol, clock)
	c.roster(3)
	ctx := context.Background()
	in := crisisIncident(dongcheng, 1)
	in.Needs[0].Skill = "elderly_care"
	inc, err := c.nodes[0].e.CreateIncident(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	c.settle(c.nodes...)
	before := c.storeSeq()
	for range 3 {
		clock.Advance(pol.Offers.RetryInterval.D())
		for _, n := range c.nodes {
			if err := n.e.Tick(ctx); err != nil {
				t.Fatalf("tick: %v", err)
			}
		}
	}
	if got := c.storeSeq(); got != before {
		t.Fatalf("retries without a candidate: got seq %d, want %d (nothing written)", got, before)
	}
	// One node alone: a write without an event would leave the other behind.
	clock.Advance(pol.Offers.RetryInterval.D())
	if err := c.nodes[0].e.Tick(ctx); err != nil {
		t.Fatalf("tick: %v", err)
	}
	c.checkConverged(c.nodes...)
	p := offset(dongcheng, 1, 0)
	if err := c.nodes[1].e.UpsertWorkers(ctx, []dispatch.WorkerInput{{ID: "pfa", Name: "pfa", HomeRegion: "BJ",
		Skills: []string{"elderly_care"}, Position: &p}}); err != nil {
		t.Fatal(err)
	}
	if err := c.nodes[1].e.SetDuty(ctx, "pfa", true); err != nil {
		t.Fatal(err)
	}
	c.settle(c.nodes...)
	clock.Advance(pol.Offers.RetryInterval.D())
	var wg sync.WaitGroup
	for _, n := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := n.e.Tick(ctx); err != nil {
				t.Errorf("tick: %v", err)
			}
		}()
	}
	wg.Wait()
	c.checkConverged(c.nodes...)
	offers := 0
	for _, ev := range c.log() {
		if ev.Type == dispatch.EventOffered && ev.IncidentID == inc.ID {
			offers++
		}
	}
	if offers != 1 {
		t.Fatalf("got %d offers of the slot, want 1", offers)
	}
}

// TestSurgeSpreadOverNodes: incidents created on different nodes count
// toward one burst, so the one that completes it queues for a joint batch.
func TestSurgeSpreadOverNodes(t *testing.T) { onEveryRedis(t, testSurgeSpreadOverNodes) }

func testSurgeSpreadOverNodes(t *testing.T, start startRedis) {
	clock := newFakeClock()
	pol := dispatch.DefaultPolicy()
	pol.Batch = dispatch.BatchPolicy{Window: dispatch.Duration(2 * time.Second), MinIncidents: 3}
	c := newFleet(t, start(t), 3, pol, clock)
	c.roster(10)
	ctx := context.Background()
	var last dispatch.Incident
	for i, n := range c.nodes {
		inc, err := n.e.CreateIncident(ctx, crisisIncident(offset(dongcheng, float64(i), 0), 1))
		if err != nil {
			t.Fatal(err)
		}
		last = inc
		c.settle(c.nodes...)
	}
	if !last.Slots[0].Queued {
		t.Fatalf("third incident of the burst, on a third node: got slot %+v, want queued", last.Slots[0])
	}
	clock.Advance(pol.Batch.Window.D())
	for _, n := range c.nodes {
		if err := n.e.Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	c.checkConverged(c.nodes...)
	inc, err := c.nodes[0].e.Incident(last.ID)
	if err != nil || inc.Slots[0].Queued || inc.Slots[0].Assignment == "" {
		t.Fatalf("after the window: got %+v (%v), want the slot offered", inc.Slots, err)
	}
	checkNodesLog(t, c.log())
}
