package sim

import (
	"encoding/json"
	"strconv"
	"sync/atomic"

	"github.com/jjj-social-work/dispatch/geo"
)

// Worker → server messages, as the phone page sends them.
type (
	dutyMsg struct {
		Type   string `json:"type"`
		ID     string `json:"id"`
		OnDuty bool   `json:"on_duty"`
	}
	positionMsg struct {
		Type      string  `json:"type"`
		ID        string  `json:"id"`
		Lat       float64 `json:"lat"`
		Lng       float64 `json:"lng"`
		AccuracyM float64 `json:"accuracy_m"`
	}
	answerMsg struct {
		Type         string `json:"type"`
		ID           string `json:"id"`
		AssignmentID string `json:"assignment_id"`
		Accept       bool   `json:"accept"`
		Reason       string `json:"reason,omitempty"`
	}
	statusMsg struct {
		Type         string `json:"type"`
		ID           string `json:"id"`
		AssignmentID string `json:"assignment_id"`
		Status       string `json:"status"`
	}
)

// msgIDs makes message ids unique per run: the server remembers answers
// by (worker, id), so a new run must not reuse an old run's ids.
type msgIDs struct {
	prefix string
	n      atomic.Uint64
}

func (m *msgIDs) next() string {
	return m.prefix + strconv.FormatUint(m.n.Add(1), 36)
}

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // our own message structs always encode
	}
	return b
}

func dutyMessage(id string, on bool) []byte {
	return mustMarshal(dutyMsg{Type: "duty", ID: id, OnDuty: on})
}

func positionMessage(id string, p geo.Point) []byte {
	return mustMarshal(positionMsg{Type: "position", ID: id, Lat: p.Lat, Lng: p.Lng, AccuracyM: 15})
}

func answerMessage(id, assignmentID string, accept bool, reason string) []byte {
	return mustMarshal(answerMsg{Type: "answer", ID: id, AssignmentID: assignmentID, Accept: accept, Reason: reason})
}

func statusMessage(id, assignmentID, status string) []byte {
	return mustMarshal(statusMsg{Type: "status", ID: id, AssignmentID: assignmentID, Status: status})
}
