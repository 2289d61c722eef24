package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/jjj-social-work/dispatch/dispatch"
)

// Server→client frame types of the stream.
const (
	frameEvent = "event"
	frameLive  = "live"
	frameReset = "reset"
	frameAck   = "ack"
	frameError = "error"
)

// frame is a decoded server message. Event is set for event frames.
type frame struct {
	Type  string          `json:"type"`
	ID    string          `json:"id"`
	Seq   uint64          `json:"seq"`
	Event *dispatch.Event `json:"event"`
	Error *HTTPError      `json:"error"`
}

// eventHead is what routing an event needs: its sequence, type and ids.
// The byte slices point into the frame and are valid only while it is.
type eventHead struct {
	Seq          uint64
	Type         []byte
	WorkerID     []byte
	IncidentID   []byte
	AssignmentID []byte
}

var (
	eventPrefix = []byte(`{"type":"event","event":{"seq":`)
	dataKey     = []byte(`,"data":`)
	typeKey     = []byte(`"type":"`)
	workerKey   = []byte(`"worker_id":"`)
	incidentKey = []byte(`"incident_id":"`)
	assignKey   = []byte(`"assignment_id":"`)
)

// peekEvent reads an event frame's head without decoding its data: a
// load run handles a million frames a second and must not spend its CPU
// on JSON it does not need. It relies on the server encoding events with
// their fields in a fixed order, data last; any other frame returns false
// and goes through encoding/json instead.
func peekEvent(b []byte) (eventHead, bool) {
	var h eventHead
	rest, ok := bytes.CutPrefix(b, eventPrefix)
	if !ok {
		return h, false
	}
	end := 0
	for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
		end++
	}
	seq, err := strconv.ParseUint(string(rest[:end]), 10, 64)
	if err != nil || seq == 0 {
		return h, false
	}
	h.Seq = seq
	head := rest[end:]
	if i := bytes.Index(head, dataKey); i >= 0 {
		head = head[:i] // ids inside data (an assignment's) are not the event's
	}
	if h.Type, ok = stringAfter(head, typeKey); !ok {
		return h, false
	}
	h.WorkerID, _ = stringAfter(head, workerKey)
	h.IncidentID, _ = stringAfter(head, incidentKey)
	h.AssignmentID, _ = stringAfter(head, assignKey)
	return h, true
}

// stringAfter returns the JSON string value after key, if it has no
// escapes (ids and type names never do).
func stringAfter(b, key []byte) ([]byte, bool) {
	i := bytes.Index(b, key)
	if i < 0 {
		return nil, false
	}
	v := b[i+len(key):]
	j := bytes.IndexByte(v, '"')
	if j < 0 || bytes.IndexByte(v[:j], '\\') >= 0 {
		return nil, false
	}
	return v[:j], true
}

// decodeFrame decodes any frame fully.
func decodeFrame(b []byte) (frame, error) {
	var f frame
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("decode frame: %w", err)
	}
	if f.Type == frameEvent && (f.Event == nil || f.Event.Seq == 0) {
		return f, fmt.Errorf("decode frame: event without a sequence")
	}
	return f, nil
}

// headOf returns an event's head from a fully decoded event.
func headOf(ev *dispatch.Event) eventHead {
	return eventHead{Seq: ev.Seq, Type: []byte(ev.Type), WorkerID: []byte(ev.WorkerID),
		IncidentID: []byte(ev.IncidentID), AssignmentID: []byte(ev.AssignmentID)}
}
