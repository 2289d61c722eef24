package diskstore

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
	bolt "go.etcd.io/bbolt"
)

// timePrefix is the length of the unix-nanos prefix of a stored event.
const timePrefix = 8

// eventBody is what of an Event is stored as JSON: Seq is the key and Time
// the binary prefix, so neither is repeated.
type eventBody struct {
	Type         string          `json:"type"`
	Region       string          `json:"region,omitempty"`
	WorkerID     string          `json:"worker_id,omitempty"`
	IncidentID   string          `json:"incident_id,omitempty"`
	AssignmentID string          `json:"assignment_id,omitempty"`
	Data         json.RawMessage `json:"data,omitempty"`
}

func seqKey(seq uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, seq)
	return k
}

func keySeq(k []byte) uint64 { return binary.BigEndian.Uint64(k) }

// encodeBody validates e, compacts e.Data into a private copy (so the caller
// may reuse its buffer) and returns the stored value with a zero time prefix
// for the caller to fill once the time is fixed.
func encodeBody(e *dispatch.Event) ([]byte, error) {
	if e.Type == "" {
		return nil, errors.New("empty type")
	}
	if len(e.Data) > 0 {
		var buf bytes.Buffer
		if err := json.Compact(&buf, e.Data); err != nil {
			return nil, fmt.Errorf("data: %w", err)
		}
		e.Data = buf.Bytes()
	}
	body, err := json.Marshal(eventBody{
		Type:         e.Type,
		Region:       e.Region,
		WorkerID:     e.WorkerID,
		IncidentID:   e.IncidentID,
		AssignmentID: e.AssignmentID,
		Data:         e.Data,
	})
	if err != nil {
		return nil, err
	}
	v := make([]byte, timePrefix+len(body))
	copy(v[timePrefix:], body)
	return v, nil
}

// putTime writes t into the prefix of a value made by encodeBody.
func putTime(v []byte, t time.Time) {
	binary.BigEndian.PutUint64(v[:timePrefix], uint64(t.UnixNano()))
}

// valueTime reads the time prefix of a stored event.
func valueTime(v []byte) time.Time {
	return time.Unix(0, int64(binary.BigEndian.Uint64(v[:timePrefix]))).UTC()
}

// decodeEvent builds an Event from a stored key and value. The result owns
// its memory: bbolt's bytes are only valid inside their transaction.
func decodeEvent(k, v []byte) (dispatch.Event, error) {
	if len(k) != 8 || len(v) < timePrefix {
		return dispatch.Event{}, fmt.Errorf("decode event: malformed entry of %d bytes", len(v))
	}
	var b eventBody
	if err := json.Unmarshal(v[timePrefix:], &b); err != nil {
		return dispatch.Event{}, fmt.Errorf("decode event %d: %w", keySeq(k), err)
	}
	return dispatch.Event{
		Seq:          keySeq(k),
		Time:         valueTime(v),
		Type:         b.Type,
		Region:       b.Region,
		WorkerID:     b.WorkerID,
		IncidentID:   b.IncidentID,
		AssignmentID: b.AssignmentID,
		Data:         b.Data,
	}, nil
}

// validTime reports whether t survives the unix-nanos encoding.
func validTime(t time.Time) bool {
	return time.Unix(0, t.UnixNano()).Equal(t)
}

// recordOp is one validated record write; a nil value deletes.
type recordOp struct {
	kind  []byte
	id    []byte
	value []byte
}

func makeRecordOp(r dispatch.Record) (recordOp, error) {
	switch {
	case r.Kind == "":
		return recordOp{}, errors.New("empty kind")
	case r.ID == "":
		return recordOp{}, errors.New("empty id")
	case len(r.ID) > bolt.MaxKeySize || len(r.Kind) > bolt.MaxKeySize:
		return recordOp{}, errors.New("id or kind too long")
	}
	op := recordOp{kind: []byte(r.Kind), id: []byte(r.ID)}
	// An empty Value is treated as nil: a JSON "value" that is absent
	// decodes either way, and neither is a valid document to store.
	if len(r.Value) > 0 {
		if !json.Valid(r.Value) {
			return recordOp{}, errors.New("value is not valid JSON")
		}
		op.value = bytes.Clone(r.Value)
	}
	return op, nil
}
