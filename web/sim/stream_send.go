package sim

import (
	"time"

	"github.com/gorilla/websocket"
)

// send writes a message now, or fails if the stream is between
// connections.
func (s *streamConn) send(msg []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.writeLocked(msg)
}

// sendTracked sends a message with an id and keeps it until the server
// acknowledges it, resending it after a reconnect; the server answers a
// repeated id with its first answer, so nothing applies twice.
func (s *streamConn) sendTracked(id string, msg []byte) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.pending == nil {
		s.pending = map[string][]byte{}
	}
	s.pending[id] = msg
	_ = s.writeLocked(msg) // on failure the reconnect resends it
}

func (s *streamConn) writeLocked(msg []byte) error {
	if s.conn == nil {
		return errNotConnected
	}
	_ = s.conn.SetWriteDeadline(time.Now().Add(streamWriteWait))
	return s.conn.WriteMessage(websocket.TextMessage, msg)
}

// retryLater resends a pending message after a pause, as the phone page
// does when the server rate-limits it; false if it is not pending.
func (s *streamConn) retryLater(id string) bool {
	s.wmu.Lock()
	_, ok := s.pending[id]
	s.wmu.Unlock()
	if !ok {
		return false
	}
	s.stats.Retries.Add(1)
	time.AfterFunc(jitter(rateLimitPause), func() {
		s.wmu.Lock()
		defer s.wmu.Unlock()
		if msg, ok := s.pending[id]; ok && !s.closed {
			_ = s.writeLocked(msg) // a failed write is resent after the reconnect
		}
	})
	return true
}

func (s *streamConn) acked(id string) {
	s.wmu.Lock()
	delete(s.pending, id)
	s.wmu.Unlock()
}

func (s *streamConn) resend() {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	for _, msg := range s.pending {
		if s.writeLocked(msg) != nil {
			return
		}
	}
}
