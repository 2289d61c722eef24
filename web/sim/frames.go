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
	eventPrefix  = []byte(`{"type":"event","event":{"seq":`)
	timeField    = []byte(`,"time":"`)
	typeField    = []byte(`,"type":"`)
	regionField  = []byte(`,"region":"`)
	workerField  = []byte(`,"worker_id":"`)
	incidentFld  = []byte(`,"incident_id":"`)
	assignmentFd = []byte(`,"assignment_id":"`)
	dataField    = []byte(`,"data":`)
)

// peekEvent reads an event frame's head without decoding its data: a
// load run handles a million frames a second and must not spend its CPU
// on JSON it does not need. It walks the fields in the order the server
// encodes them (dispatch.Event's: seq, time, type, region, the ids, data
// last) and looks at nothing after the ids; a frame of any other shape
// returns false and goes through encoding/json instead.
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
	rest = rest[end:]
	if _, rest, ok = stringField(rest, timeField); !ok {
		return h, false
	}
	if h.Type, rest, ok = stringField(rest, typeField); !ok {
		return h, false
	}
	_, rest, _ = stringField(rest, regionField)
	h.WorkerID, rest, _ = stringField(rest, workerField)
	h.IncidentID, rest, _ = stringField(rest, incidentFld)
	h.AssignmentID, rest, _ = stringField(rest, assignmentFd)
	if !bytes.HasPrefix(rest, dataField) && !bytes.HasPrefix(rest, []byte("}")) {
		return h, false // a field this walk does not know: let encoding/json read it
	}
	return h, true
}

// stringField reads `,"key":"value"` at the start of b: the value (if it
// has no escapes; ids and type names never do) and what follows. If b
// does not start with the field, it returns b unchanged and false.
func stringField(b, field []byte) (value, rest []byte, ok bool) {
	v, found := bytes.CutPrefix(b, field)
	if !found {
		return nil, b, false
	}
	j := bytes.IndexByte(v, '"')
	if j < 0 || bytes.IndexByte(v[:j], '\\') >= 0 {
		return nil, b, false
	}
	return v[:j], v[j+1:], true
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
