package web

import (
	"context"
	"errors"
	"net/http"
)

// handleClientMessage answers one message a client sent over its stream:
// an ack or an error frame, matched by the client's id. Only workers send
// messages; the answer to a message already seen (same worker, same id)
// is the remembered one, so a resend after a reconnect applies nothing
// twice.
func (s *Server) handleClientMessage(ctx context.Context, p *Principal, data []byte) *frame {
	if p.Role != RoleWorker {
		return errorFrame("", &APIError{Status: http.StatusForbidden, Code: CodeForbidden,
			Message: "only worker credentials send messages on the stream"})
	}
	m, id, aerr := parseClientMessage(data)
	if aerr != nil {
		return errorFrame(id, aerr)
	}
	if m.Type == msgPing {
		return ackFrame(id, nil)
	}
	key := ackKey(p.WorkerID, id)
	if f, ok := s.acks.get(key); ok {
		return f
	}
	result, err := s.applyWorkerMessage(ctx, p, m)
	if err != nil {
		var ae *APIError
		if !errors.As(err, &ae) {
			ae = s.engineError(err)
		}
		if ae.Status >= 500 {
			s.log.Error("worker message failed", "type", m.Type, "err", err)
			return errorFrame(id, ae) // not remembered: a retry may succeed
		}
		f := errorFrame(id, ae)
		s.acks.put(key, f)
		return f
	}
	f := ackFrame(id, result)
	s.acks.put(key, f)
	return f
}

func ackFrame(id string, result any) *frame {
	return &frame{data: mustJSON(ackMessage{Type: "ack", ID: id, Result: result})}
}

func errorFrame(id string, e *APIError) *frame {
	return &frame{data: mustJSON(errorMessage{Type: "error", ID: id, Error: e})}
}
