package sim

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
)

// serverFrame encodes an event the way the server's stream does.
func serverFrame(t testing.TB, ev dispatch.Event) []byte {
	b, err := json.Marshal(struct {
		Type  string          `json:"type"`
		Event *dispatch.Event `json:"event"`
	}{"event", &ev})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pick(rng *rand.Rand, s ...string) string { return s[rng.IntN(len(s))] }

// peekEvent must read every frame the server sends, and read it exactly as
// encoding/json does, whichever optional fields are present and whatever
// the data holds (ids and key names included).
func TestPeekEventAgreesWithJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 5000 {
		ev := dispatch.Event{Seq: uint64(1 + rng.IntN(1e9)), Time: time.Unix(1.8e9+int64(i), int64(rng.IntN(1e9))).UTC(),
			Type:         pick(rng, "incident.created", "assignment.offered", "worker.duty", "need.unfilled"),
			Region:       pick(rng, "", "BJ", "TJ", "HE"),
			WorkerID:     pick(rng, "", "W1", "L-HE-00042"),
			IncidentID:   pick(rng, "", "inc_01m8apy42114cd8fmedec6c3pf"),
			AssignmentID: pick(rng, "", "asg_01m8apy421ry2spxmvf0sq6f9e"),
		}
		switch rng.IntN(3) {
		case 0:
		case 1:
			ev.Data = json.RawMessage(`{"worker_id":"decoy","incident_id":"decoy","type":"decoy"}`)
		default:
			ev.Data = json.RawMessage(`{"status":"staffed"}`)
		}
		b := serverFrame(t, ev)
		h, ok := peekEvent(b)
		if !ok {
			t.Fatalf("server frame not read: %s", b)
		}
		f, err := decodeFrame(b)
		if err != nil {
			t.Fatal(err)
		}
		if want := headOf(f.Event); !sameHead(h, want) {
			t.Fatalf("%s:\npeek %+v\njson %+v", b, h, want)
		}
	}
}

func sameHead(a, b eventHead) bool {
	return a.Seq == b.Seq && string(a.Type) == string(b.Type) && string(a.WorkerID) == string(b.WorkerID) &&
		string(a.IncidentID) == string(b.IncidentID) && string(a.AssignmentID) == string(b.AssignmentID)
}

// Whatever the bytes, peekEvent either declines or agrees with
// encoding/json.
func FuzzPeekEvent(f *testing.F) {
	f.Add([]byte(`{"type":"event","event":{"seq":7,"time":"2026-01-01T00:00:00Z","type":"x","worker_id":"W1","data":{}}}`))
	f.Add([]byte(`{"type":"event","event":{"seq":7,"time":"t","type":"x","worker_id":"W\"1","data":{}}}`))
	f.Add([]byte(`{"type":"event","event":{"seq":7,"time":"t","type":"x","extra":"y","worker_id":"W1"}}`))
	f.Add([]byte(`{"type":"live","seq":3}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, ok := peekEvent(b)
		if !ok {
			return
		}
		fr, err := decodeFrame(b)
		if err != nil {
			return // not JSON at all; the reader would have failed on the rest
		}
		if fr.Event == nil {
			t.Fatalf("peek read an event from %q, json found none", b)
		}
		if want := headOf(fr.Event); !sameHead(h, want) {
			t.Fatalf("%q:\npeek %+v\njson %+v", b, h, want)
		}
	})
}
