package web

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gorilla/websocket"
)

// handleStream upgrades GET /api/v1/stream to a websocket of events.
//
// Query: after=SEQ resumes after that sequence (omit it to start live);
// regions=HE,BJ narrows a coordinator's stream; ticket=... authenticates a
// browser (see POST /api/v1/ws-ticket). Non-browser clients may send
// "Authorization: Bearer" instead.
func (s *Server) handleStream(w http.ResponseWriter, r *http.Request) {
	// Origin first, so a foreign page learns nothing, not even whether a
	// stolen ticket is still good.
	if !s.origins.allowed(r) {
		s.fail(w, r, &APIError{Status: http.StatusForbidden, Code: CodeOriginRefused, Field: "Origin",
			Message: "this origin may not open the stream"})
		return
	}
	p, err := s.streamPrincipal(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	filter, aerr := streamFilterFor(p, q.Get("regions"), q.Has("regions"))
	if aerr != nil {
		s.fail(w, r, aerr)
		return
	}
	var after uint64
	resume := q.Has("after")
	if resume {
		if after, err = strconv.ParseUint(q.Get("after"), 10, 64); err != nil {
			s.fail(w, r, errField("after", "want a sequence number (a non-negative integer)"))
			return
		}
	}
	if !websocket.IsWebSocketUpgrade(r) {
		s.fail(w, r, &APIError{Status: http.StatusUpgradeRequired, Code: CodeUpgradeRequired,
			Message: "this endpoint speaks websocket only"})
		return
	}
	cw := &corkingWriter{ResponseWriter: w}
	conn, err := s.upgrader.Upgrade(cw, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	log := logFrom(r.Context(), s.log).With("role", string(p.Role), "token", p.TokenID)
	ctx, cancel := context.WithCancel(s.baseCtx)
	c := &client{
		srv: s, conn: conn, cork: cw.conn, p: p, scope: filter, after: after, resume: resume, log: log,
		q:   newSendQueue(s.limits.QueueBytes, s.limits.QueueFrames),
		ctx: ctx, cancel: cancel, readerDone: make(chan struct{}),
	}
	if !s.track(c) {
		cancel()
		_ = conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"), s.now().Add(writeWait))
		conn.Close()
		return
	}
	s.metrics.connections.WithLabelValues(string(p.Role)).Inc()
	log.Debug("stream open", "after", after, "resume", resume)
	// Both loops run on their own goroutines so this handler returns and
	// net/http releases the request's buffers.
	go c.readLoop()
	go c.writeLoop()
}

// streamPrincipal authenticates a stream by ticket or bearer header.
func (s *Server) streamPrincipal(r *http.Request) (*Principal, error) {
	if t := r.URL.Query().Get("ticket"); t != "" {
		p, ok := s.tickets.redeem(t)
		if !ok {
			return nil, errUnauthenticated
		}
		// The credential behind the ticket may have been revoked since.
		if err := s.auth.Valid(p.TokenID); err != nil {
			return nil, errUnauthenticated
		}
		return p, nil
	}
	tok, ok := bearerToken(r)
	if !ok {
		return nil, errUnauthenticated
	}
	p, err := s.auth.Authenticate(tok)
	if err != nil {
		logAuthFailure(r, s.log, tok, err)
		return nil, errUnauthenticated
	}
	return p, nil
}

// streamFilterFor decides what p's stream carries. A worker gets only its
// own events; a coordinator its regions, optionally narrowed by ?regions=;
// narrowing outside one's scope is refused rather than silently ignored.
func streamFilterFor(p *Principal, regionsParam string, has bool) (streamFilter, *APIError) {
	if p.Role == RoleWorker {
		if has {
			return streamFilter{}, errForbiddenField("regions", "workers receive only their own events")
		}
		return streamFilter{workerID: p.WorkerID}, nil
	}
	var want []string
	if has {
		for _, reg := range strings.Split(regionsParam, ",") {
			reg = strings.ToUpper(strings.TrimSpace(reg))
			if !ValidRegion(reg) {
				return streamFilter{}, errField("regions", "want a comma-separated list of BJ, TJ, HE")
			}
			if !p.SeesRegion(reg) {
				return streamFilter{}, errForbiddenField("regions", "region "+reg+" is outside this credential's scope")
			}
			if !slices.Contains(want, reg) {
				want = append(want, reg)
			}
		}
	}
	if len(want) == 0 && p.Scoped() {
		want = slices.Clone(p.Regions)
	}
	return streamFilter{regions: want}, nil
}
