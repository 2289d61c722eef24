package diskstore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
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
)

// The crash test runs the test binary again as a child that commits in a
// loop and prints what was acknowledged; the parent kills it with SIGKILL
// at a random moment and checks that the reopened store holds every
// acknowledged change and a log without gaps.
const (
	crashDirEnv   = "DISKSTORE_CRASH_DIR"
	crashRoundEnv = "DISKSTORE_CRASH_ROUND"
	crashWriters  = 6
	crashRounds   = 5
	// crashChildLimit stops a child whose parent died without killing it.
	crashChildLimit = 30 * time.Second
)

// crashAck is one acknowledged batch as the child reported it.
type crashAck struct {
	id          string // record id, also the events' WorkerID
	writer, i   int
	first, last uint64 // the batch's seqs
}

func (a crashAck) line() string {
	return fmt.Sprintf("ack %s %d %d %d %d\n", a.id, a.writer, a.i, a.first, a.last)
}

func parseAck(line string) (crashAck, error) {
	var a crashAck
	_, err := fmt.Sscanf(line, "ack %s %d %d %d %d\n", &a.id, &a.writer, &a.i, &a.first, &a.last)
	return a, err
}

func crashID(round, writer, i int) string { return fmt.Sprintf("r%d-g%d-%d", round, writer, i) }

func crashWorker(writer int) string { return fmt.Sprintf("cw%d", writer) }

// TestCrashChild is the child side; it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("runs only as the child of TestCrashRecovery")
	}
	round, _ := strconv.Atoi(os.Getenv(crashRoundEnv))
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), crashChildLimit)
	defer cancel()
	var wg sync.WaitGroup
	for w := range crashWriters {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				id := crashID(round, w, i)
				b := dispatch.Batch{
					Records: []dispatch.Record{{
						Kind: dispatch.KindWorker, ID: id,
						Value: json.RawMessage(fmt.Sprintf(`{"round":%d,"i":%d}`, round, i)),
					}},
					// Each batch moves the writer's worker to a new
					// assignment: release and claim in one batch.
					Releases: []string{crashWorker(w)},
					Claims:   []dispatch.Claim{{WorkerID: crashWorker(w), AssignmentID: id}},
				}
				for range 1 + i%3 {
					b.Events = append(b.Events, dispatch.Event{Type: "crash.test", WorkerID: id})
				}
				c, err := s.Commit(ctx, b)
				if err != nil {
					t.Errorf("Commit: %v", err)
					return
				}
				if err := c.Wait(ctx); err != nil {
					t.Errorf("Wait: %v", err)
					return
				}
				a := crashAck{id: id, writer: w, i: i, first: c.Events[0].Seq, last: c.Events[len(c.Events)-1].Seq}
				// One write per line: lines from several writers never mix.
				os.Stdout.WriteString(a.line())
			}
		})
	}
	wg.Wait()
	s.Close()
}

func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 7))
	t.Logf("seed %d", seed)
	var prevLast uint64
	for round := range crashRounds {
		delay := time.Duration(rng.IntN(150)) * time.Millisecond
		acks := runCrashChild(t, dir, round, delay)
		if len(acks) == 0 {
			t.Fatalf("round %d: child acknowledged nothing", round)
		}
		prevLast = checkAfterCrash(t, dir, round, acks, prevLast)
		t.Logf("round %d: killed after %v with %d batches acknowledged, log ends at %d", round, delay, len(acks), prevLast)
	}
}

// runCrashChild starts a child on dir, lets it run for delay after its
// first acknowledgement, kills it with SIGKILL and returns every complete
// ack line it printed.
func runCrashChild(t *testing.T, dir string, round int, delay time.Duration) []crashAck {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashRoundEnv+"="+strconv.Itoa(round))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("stdout pipe: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}
	first := make(chan struct{})
	lines := make(chan []string, 1)
	go func() {
		var got []string
		r := bufio.NewReader(out)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				break // a line cut short by the kill is ignored
			}
			if len(got) == 0 {
				close(first)
			}
			got = append(got, line)
		}
		io.Copy(io.Discard, out)
		lines <- got
	}()
	select {
	case <-first:
	case <-time.After(20 * time.Second):
		syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		t.Fatalf("round %d: child printed nothing; stderr:\n%s", round, stderr.String())
	}
	time.Sleep(delay)
	if err := syscall.Kill(cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill child: %v", err)
	}
	got := <-lines
	cmd.Wait()
	var acks []crashAck
	for _, line := range got {
		if !strings.HasPrefix(line, "ack ") {
			continue
		}
		a, err := parseAck(line)
		if err != nil {
			t.Fatalf("round %d: bad line %q: %v", round, line, err)
		}
		acks = append(acks, a)
	}
	if strings.Contains(stderr.String(), "DATA RACE") || strings.Contains(stderr.String(), "--- FAIL") {
		t.Fatalf("round %d: child failed:\n%s", round, stderr.String())
	}
	return acks
}

// checkAfterCrash reopens dir and checks the acknowledged batches of one
// round against it; it returns the last seq in the log.
func checkAfterCrash(t *testing.T, dir string, round int, acks []crashAck, prevLast uint64) uint64 {
	t.Helper()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("round %d: reopen: %v", round, err)
	}
	defer s.Close()

	log := allEvents(t, s, 0)
	checkContiguous(t, log, 1)
	recs, last := loadAll(t, s)
	if uint64(len(log)) != last {
		t.Fatalf("round %d: log has %d events, Load says last seq %d", round, len(log), last)
	}

	lastAcked := map[int]int{} // writer -> highest acknowledged i
	for _, a := range acks {
		if a.first <= prevLast {
			t.Errorf("round %d: seq %d acknowledged again; the previous log ended at %d", round, a.first, prevLast)
		}
		if a.last > last {
			t.Fatalf("round %d: acknowledged seq %d lost; the log ends at %d", round, a.last, last)
		}
		for seq := a.first; seq <= a.last; seq++ {
			if e := log[seq-1]; e.WorkerID != a.id || e.Type != "crash.test" {
				t.Errorf("round %d: event %d: got %s/%s, want crash.test/%s", round, seq, e.Type, e.WorkerID, a.id)
			}
		}
		want := fmt.Sprintf(`{"round":%d,"i":%d}`, round, a.i)
		if got, ok := recs["worker/"+a.id]; !ok || got != want {
			t.Errorf("round %d: record %s: got %q (stored %v), want %q", round, a.id, got, ok, want)
		}
		if i, ok := lastAcked[a.writer]; !ok || a.i > i {
			lastAcked[a.writer] = a.i
		}
	}

	// A writer's worker is claimed for its last acknowledged batch, or for
	// a later one that became durable without being acknowledged.
	claims := s.Claims()
	for w, i := range lastAcked {
		held := claims[crashWorker(w)]
		var r, g, j int
		if _, err := fmt.Sscanf(held, "r%d-g%d-%d", &r, &g, &j); err != nil || r != round || g != w || j < i {
			t.Errorf("round %d: %s held for %q, want %s or later", round, crashWorker(w), held, crashID(round, w, i))
		}
	}
	return last
}
