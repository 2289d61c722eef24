package sim

import (
	"strconv"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/jjj-social-work/dispatch/geo"
)

// loadWorker is a simulated phone at full speed: it accepts every offer at
// once and walks the assignment through en route, on scene and done as
// soon as the server confirms each step, all on its stream's reader
// goroutine (one goroutine per connection keeps ten thousand of them
// cheap).
type loadWorker struct {
	idx    int
	id     string
	home   geo.Point
	prefix string // message ids: prefix + counter
	n      uint32
	stream *streamConn
	rec    *recorder
	errs   *errorCounts

	// Reader goroutine only (read after the run stopped).
	seqs  []uint64 // every event sequence received
	start uint64   // the head when the stream first went live
}

func (w *loadWorker) nextID() string {
	w.n++
	return w.prefix + strconv.FormatUint(uint64(w.n), 36)
}

func (w *loadWorker) onLive(resumed bool) {
	if !resumed {
		w.start = w.stream.stats.Last.Load()
	}
}

func (w *loadWorker) onEvent(h eventHead, _ []byte) {
	w.seqs = append(w.seqs, h.Seq)
	var next string
	switch string(h.Type) {
	case dispatch.EventOffered:
		now := time.Now()
		w.rec.offered(h.IncidentID, now)
		w.rec.acceptSent(h.AssignmentID, time.Now())
		id := w.nextID()
		w.stream.sendTracked(id, answerMessage(id, string(h.AssignmentID), true, ""))
		return
	case dispatch.EventAccepted:
		next = string(dispatch.StateEnRoute)
	case dispatch.EventEnRoute:
		next = string(dispatch.StateOnScene)
	case dispatch.EventOnScene:
		next = string(dispatch.StateCompleted)
	default:
		return
	}
	id := w.nextID()
	w.stream.sendTracked(id, statusMessage(id, string(h.AssignmentID), next))
}

func (w *loadWorker) onReply(f frame) {
	if f.Type == frameError {
		code := "unknown"
		if f.Error != nil {
			code = f.Error.Code
		}
		w.errs.add(code)
	}
}

// loadDesk is a simulated joint desk: it notes when each acceptance
// reaches it, and the reference desk also keeps every worker's event
// sequences to check the workers' streams against.
type loadDesk struct {
	stream  *streamConn
	rec     *recorder
	ref     bool
	index   map[string]int    // worker id → index (shared, read-only)
	refSeqs [][]uint64        // per worker (reference desk only)
	types   map[string]uint64 // events by type (reference desk only)
}

func (d *loadDesk) onEvent(h eventHead, _ []byte) {
	if string(h.Type) == dispatch.EventAccepted {
		d.rec.acceptSeen(h.AssignmentID, time.Now())
	}
	if !d.ref {
		return
	}
	if n, ok := d.types[string(h.Type)]; ok {
		d.types[string(h.Type)] = n + 1
	} else {
		d.types[string(h.Type)] = 1
	}
	if len(h.WorkerID) > 0 {
		if i, ok := d.index[string(h.WorkerID)]; ok {
			d.refSeqs[i] = append(d.refSeqs[i], h.Seq)
		}
	}
}

// missing compares worker i's stream with the reference desk: of the
// events about the worker after its stream went live and up to end, those
// at or before the worker's last sequence that it lacks were skipped
// (lost); those after it were not delivered yet (late).
func missing(ref, got []uint64, start, end, last uint64) (lost, late uint64) {
	have := make(map[uint64]struct{}, len(got))
	for _, s := range got {
		have[s] = struct{}{}
	}
	for _, s := range ref {
		if s <= start || s > end {
			continue
		}
		if _, ok := have[s]; ok {
			continue
		}
		if s <= last {
			lost++
		} else {
			late++
		}
	}
	return lost, late
}
