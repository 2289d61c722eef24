package diskstore

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
)

func TestEventCodec(t *testing.T) {
	at := time.Date(2023, 7, 31, 8, 0, 0, 5, time.UTC)
	tests := []struct {
		name string
		ev   dispatch.Event
	}{
		{"type only", dispatch.Event{Type: "x"}},
		{"all fields", dispatch.Event{Type: "assignment.accepted", Region: "HE", WorkerID: "w-涿州-1",
			IncidentID: "i1", AssignmentID: "a1", Data: json.RawMessage(`{"note":"洪水 \n"}`)}},
		{"long strings", dispatch.Event{Type: strings.Repeat("t", 300), WorkerID: strings.Repeat("w", 70000)}},
		{"data with spaces kept", dispatch.Event{Type: "x", Data: json.RawMessage(` [1, 2] `)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.ev
			v, err := encodeBody(&e)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			putTime(v, at)
			got, err := decodeEvent(seqKey(42), v)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			want := tt.ev
			want.Seq, want.Time = 42, at
			if got.Seq != want.Seq || !got.Time.Equal(want.Time) || got.Type != want.Type ||
				got.Region != want.Region || got.WorkerID != want.WorkerID || got.IncidentID != want.IncidentID ||
				got.AssignmentID != want.AssignmentID || string(got.Data) != string(want.Data) {
				t.Errorf("got %+v, want %+v", got, want)
			}
			// Every cut-short value is refused, never misread.
			for n := 0; n < len(v); n++ {
				if _, err := decodeEvent(seqKey(42), v[:n]); err == nil {
					t.Fatalf("decode of %d of %d bytes: got no error", n, len(v))
				}
			}
		})
	}
}
