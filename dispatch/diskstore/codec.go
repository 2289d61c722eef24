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

// formatVersion names the on-disk layout; Open refuses any other.
const formatVersion = 1

func seqKey(seq uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, seq)
	return k
}

func keySeq(k []byte) uint64 { return binary.BigEndian.Uint64(k) }

// encodeBody validates e and returns its stored value: a zero time prefix,
// for the caller to fill once the time is fixed, then Type, Region,
// WorkerID, IncidentID, AssignmentID and Data, each as a uvarint length and
// bytes. Seq is the key. A binary body costs a fraction of JSON on the
// commit path, and Data stays exactly as given. e.Data becomes a private
// copy, so the caller may reuse its buffer.
func encodeBody(e *dispatch.Event) ([]byte, error) {
	if e.Type == "" {
		return nil, errors.New("empty type")
	}
	if len(e.Data) > 0 {
		if !json.Valid(e.Data) {
			return nil, errors.New("data is not valid JSON")
		}
		e.Data = bytes.Clone(e.Data)
	} else {
		e.Data = nil
	}
	fields := [...]string{e.Type, e.Region, e.WorkerID, e.IncidentID, e.AssignmentID}
	n := timePrefix + len(e.Data) + (len(fields)+1)*binary.MaxVarintLen32
	for _, f := range fields {
		n += len(f)
	}
	v := make([]byte, timePrefix, n)
	for _, f := range fields {
		v = binary.AppendUvarint(v, uint64(len(f)))
		v = append(v, f...)
	}
	v = binary.AppendUvarint(v, uint64(len(e.Data)))
	return append(v, e.Data...), nil
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
		return dispatch.Event{}, errors.New("decode event: malformed entry")
	}
	e := dispatch.Event{Seq: keySeq(k), Time: valueTime(v)}
	rest := v[timePrefix:]
	field := func() ([]byte, bool) {
		n, w := binary.Uvarint(rest)
		if w <= 0 || n > uint64(len(rest)-w) {
			return nil, false
		}
		f := rest[w : w+int(n)]
		rest = rest[w+int(n):]
		return f, true
	}
	for _, dst := range [...]*string{&e.Type, &e.Region, &e.WorkerID, &e.IncidentID, &e.AssignmentID} {
		f, ok := field()
		if !ok {
			return dispatch.Event{}, fmt.Errorf("decode event %d: malformed body", e.Seq)
		}
		*dst = string(f)
	}
	data, ok := field()
	if !ok || len(rest) != 0 {
		return dispatch.Event{}, fmt.Errorf("decode event %d: malformed body", e.Seq)
	}
	if len(data) > 0 {
		e.Data = bytes.Clone(data)
	}
	return e, nil
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
