package dispatch_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/jjj-social-work/dispatch/dispatch/diskstore"
	"github.com/jjj-social-work/dispatch/geo"
)

// The engine crash test runs the test binary again as a child that drives
// an engine on a diskstore from several goroutines and prints every
// acknowledged change; the parent SIGKILLs it at a random moment, restarts
// the engine on the same directory and checks that every acknowledged
// change is there, the log has no gap, and log and records agree.
const (
	engineCrashDirEnv   = "ENGINE_CRASH_DIR"
	engineCrashRoundEnv = "ENGINE_CRASH_ROUND"
	engineCrashWorkers  = 12
	engineCrashRounds   = 4
	engineCrashLimit    = 30 * time.Second // a child whose parent died stops by itself
)

func crashPolicy() dispatch.Policy {
	p := testPolicy()
	p.Offers.Timeout = dispatch.PerSeverity[dispatch.Duration]{I: dispatch.Duration(150 * time.Millisecond),
		II: dispatch.Duration(150 * time.Millisecond), III: dispatch.Duration(150 * time.Millisecond), IV: dispatch.Duration(150 * time.Millisecond)}
	p.Offers.RetryInterval = dispatch.Duration(50 * time.Millisecond)
	p.Batch = dispatch.BatchPolicy{Window: dispatch.Duration(30 * time.Millisecond), MinIncidents: 3}
	p.MutualAid = dispatch.MutualAidImmediate
	return p
}

func crashWorkerID(i int) string { return fmt.Sprintf("cw%02d", i) }

// crashPos encodes an update counter in the position, so that the parent
// can tell which update the store holds.
func crashPos(i int, n int) geo.Point {
	return offset(dongcheng, float64(i%4), float64(i/4)+float64(n)*1e-4)
}

func crashPosN(i int, p geo.Point) int {
	base := offset(dongcheng, float64(i%4), float64(i/4))
	return int((p.Lng-base.Lng)*111.2*0.766/1e-4 + 0.5)
}

// TestEngineCrashChild is the child side; it does nothing in a normal run.
func TestEngineCrashChild(t *testing.T) {
	dir := os.Getenv(engineCrashDirEnv)
	if dir == "" {
		t.Skip("runs only as the child of TestEngineCrashRecovery")
	}
	round, _ := strconv.Atoi(os.Getenv(engineCrashRoundEnv))
	ctx, cancel := context.WithTimeout(context.Background(), engineCrashLimit)
	defer cancel()
	st, err := diskstore.Open(dir, diskstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pol := crashPolicy()
	e, err := dispatch.New(ctx, dispatch.Options{Store: st, Policy: &pol})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	ack := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		os.Stdout.WriteString(fmt.Sprintf(format, args...) + "\n")
	}
	if round == 0 {
		var in []dispatch.WorkerInput
		for i := range engineCrashWorkers {
			p := crashPos(i, 0)
			in = append(in, dispatch.WorkerInput{ID: crashWorkerID(i), Name: "w", HomeRegion: "BJ", Skills: []string{"crisis_intervention"}, Position: &p})
		}
		if err := e.UpsertWorkers(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	go e.Run(ctx)
	ack("ready")
	var wg sync.WaitGroup
	wg.Go(func() { crashIntake(ctx, e, round, ack) })
	for i := range engineCrashWorkers {
		wg.Go(func() { crashWorkerLoop(ctx, e, i, round, ack) })
	}
	wg.Wait()
}

func crashIntake(ctx context.Context, e *dispatch.Engine, round int, ack func(string, ...any)) {
	rng := rand.New(rand.NewPCG(uint64(round), 1))
	for ctx.Err() == nil {
		inc, err := e.CreateIncident(ctx, dispatch.IncidentInput{Type: "flood", Severity: dispatch.SeverityII,
			Position: offset(dongcheng, rng.Float64()*4, rng.Float64()*3), Needs: []dispatch.NeedInput{{Skill: "crisis_intervention", Count: 1 + rng.IntN(2)}}})
		if err == nil {
			ack("incident %s", inc.ID)
		}
		if open := e.Incidents("", true); len(open) > 6 {
			if e.CloseIncident(ctx, dispatch.IncidentAction{IncidentID: open[0].ID, By: "desk"}) == nil {
				ack("closed %s", open[0].ID)
			}
		}
		time.Sleep(time.Duration(rng.IntN(15)) * time.Millisecond)
	}
}

func crashWorkerLoop(ctx context.Context, e *dispatch.Engine, i, round int, ack func(string, ...any)) {
	id := crashWorkerID(i)
	rng := rand.New(rand.NewPCG(uint64(round), uint64(i)+10))
	w, err := e.Worker(id)
	if err != nil {
		return
	}
	n := crashPosN(i, *w.Position)
	if !w.OnDuty && e.SetDuty(ctx, id, true) == nil {
		ack("duty %s", id)
	}
	for ctx.Err() == nil {
		if rng.IntN(3) == 0 {
			n++
			if e.UpdatePosition(ctx, id, crashPos(i, n)) == nil {
				ack("pos %s %d", id, n)
			}
		}
		if w, err := e.Worker(id); err == nil && w.Active != "" {
			crashAct(ctx, e, rng, id, w.Active, ack)
		}
		time.Sleep(time.Duration(rng.IntN(5)) * time.Millisecond)
	}
}

func crashAct(ctx context.Context, e *dispatch.Engine, rng *rand.Rand, id, aid string, ack func(string, ...any)) {
	a, err := e.Assignment(aid)
	if err != nil {
		return
	}
	next := map[dispatch.State]dispatch.State{dispatch.StateAccepted: dispatch.StateEnRoute,
		dispatch.StateEnRoute: dispatch.StateOnScene, dispatch.StateOnScene: dispatch.StateCompleted}
	switch {
	case a.State == dispatch.StateOffered && rng.IntN(4) == 0:
		if e.Answer(ctx, id, aid, false, "") == nil {
			ack("declined %s", aid)
		}
	case a.State == dispatch.StateOffered:
		if e.Answer(ctx, id, aid, true, "") == nil {
			ack("accepted %s", aid)
		}
	case next[a.State] != "":
		if e.Advance(ctx, id, aid, next[a.State]) == nil {
			ack("%s %s", next[a.State], aid)
		}
	}
}

// runEngineCrashChild starts a child, kills it after a random time, and
// returns the acknowledged lines.
func runEngineCrashChild(t *testing.T, dir string, round int, rng *rand.Rand) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestEngineCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), engineCrashDirEnv+"="+dir, engineCrashRoundEnv+"="+strconv.Itoa(round))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		io.Copy(io.Discard, out)
	}()
	var acks []string
	for l := range lines {
		if l == "ready" {
			break
		}
		acks = append(acks, l)
	}
	kill := time.After(time.Duration(200+rng.IntN(800)) * time.Millisecond)
	for done := false; !done; {
		select {
		case l, ok := <-lines:
			if !ok {
				done = true
				break
			}
			acks = append(acks, l)
		case <-kill:
			if err := syscall.Kill(cmd.Process.Pid, syscall.SIGKILL); err != nil {
				t.Fatalf("kill child %d: %v", cmd.Process.Pid, err)
			}
			kill = nil
		}
	}
	if err := cmd.Wait(); err == nil || kill != nil {
		t.Fatalf("child ended by itself (%v), want it killed", err)
	}
	return acks
}

func TestEngineCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test re-executes the test binary")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(7, 7))
	var all []string
	for round := range engineCrashRounds {
		acks := runEngineCrashChild(t, dir, round, rng)
		all = append(all, acks...)
		n := checkEngineAfterCrash(t, dir, all)
		t.Logf("round %d: %d acknowledged changes, %d events in the log", round, len(acks), n)
	}
}

// checkEngineAfterCrash restarts the engine on dir and checks every
// acknowledgement so far, the log and the claims; it returns the log length.
func checkEngineAfterCrash(t *testing.T, dir string, acks []string) uint64 {
	t.Helper()
	ctx := context.Background()
	st, err := diskstore.Open(dir, diskstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pol := crashPolicy()
	e, err := dispatch.New(ctx, dispatch.Options{Store: st, Policy: &pol, Clock: newFakeClock()})
	if err != nil {
		t.Fatal(err)
	}
	lastPos := map[string]int{}
	for _, l := range acks {
		f := strings.Fields(l)
		if len(f) != 2 && !(len(f) == 3 && f[0] == "pos") {
			continue // a line cut by the kill
		}
		if err := checkAck(e, f, lastPos); err != nil {
			t.Fatalf("acknowledged %q: %v", l, err)
		}
	}
	for id, n := range lastPos {
		w, err := e.Worker(id)
		if err != nil {
			t.Fatal(err)
		}
		if got := crashPosN(workerIndex(id), *w.Position); got < n || got > n+1 {
			t.Fatalf("worker %s: got position update %d, want %d (or the one in flight)", id, got, n)
		}
	}
	return checkLog(t, e, st)
}

func workerIndex(id string) int {
	i, _ := strconv.Atoi(strings.TrimPrefix(id, "cw"))
	return i
}

func checkAck(e *dispatch.Engine, f []string, lastPos map[string]int) error {
	switch f[0] {
	case "incident":
		_, err := e.Incident(f[1])
		return err
	case "closed":
		inc, err := e.Incident(f[1])
		if err == nil && inc.Status != dispatch.IncidentClosed {
			err = fmt.Errorf("status %s", inc.Status)
		}
		return err
	case "duty":
		w, err := e.Worker(f[1])
		if err == nil && !w.OnDuty {
			err = errors.New("off duty")
		}
		return err
	case "pos":
		n, _ := strconv.Atoi(f[2])
		lastPos[f[1]] = max(lastPos[f[1]], n)
		return nil
	}
	a, err := e.Assignment(f[1])
	if err != nil {
		return err
	}
	ok := map[string]bool{
		"declined":  a.State == dispatch.StateDeclined,
		"accepted":  !a.AcceptedAt.IsZero(),
		"en_route":  !a.EnRouteAt.IsZero(),
		"on_scene":  !a.OnSceneAt.IsZero(),
		"completed": a.State == dispatch.StateCompleted,
	}[f[0]]
	if !ok {
		return fmt.Errorf("assignment is %s", a.State)
	}
	return nil
}

// checkLog reads the whole log: no gap, every assignment's last event
// agrees with its record, and no worker ever held two active assignments.
func checkLog(t *testing.T, e *dispatch.Engine, st *diskstore.Store) uint64 {
	t.Helper()
	tr := newActiveTracker()
	for {
		evs, err := st.EventsAfter(context.Background(), tr.last, 5000)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			break
		}
		for _, ev := range evs {
			if err := tr.apply(ev); err != nil {
				t.Fatal(err)
			}
		}
	}
	if tr.last != e.LastSeq() {
		t.Fatalf("log ends at %d, engine at %d", tr.last, e.LastSeq())
	}
	for id, s := range tr.state {
		a, err := e.Assignment(id)
		if err != nil || a.State != s {
			t.Fatalf("assignment %s: record %s (%v), log %s", id, a.State, err, s)
		}
	}
	claims := st.Claims()
	for i := range engineCrashWorkers {
		w, err := e.Worker(crashWorkerID(i))
		if err != nil || claims[w.ID] != w.Active {
			t.Fatalf("worker %s: claim %q, record %q (%v)", w.ID, claims[w.ID], w.Active, err)
		}
	}
	return tr.last
}
