package web

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"sync"
	"time"
)

// Websocket tickets exist because browsers cannot set an Authorization
// header on a websocket handshake. A page trades its bearer token for a
// ticket (POST /api/v1/ws-ticket) and opens /api/v1/stream?ticket=...; the
// ticket is single-use and short-lived, so a URL that ends up in a proxy log
// or browser history is worthless by the time anyone reads it.
const (
	ticketTTL        = 30 * time.Second
	maxTicketsIssued = 10000 // outstanding at once; bounds memory against abuse
)

var errTooManyTickets = errors.New("too many outstanding websocket tickets")

type ticketEntry struct {
	p       *Principal
	expires time.Time
}

type tickets struct {
	now func() time.Time

	mu sync.Mutex
	m  map[[32]byte]ticketEntry // keyed by SHA-256 so no map probe leaks timing about the ticket itself
}

func newTickets(now func() time.Time) *tickets {
	return &tickets{now: now, m: map[[32]byte]ticketEntry{}}
}

func (t *tickets) issue(p *Principal) (string, time.Time, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", time.Time{}, err
	}
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	now := t.now()
	exp := now.Add(ticketTTL)
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.m) >= maxTicketsIssued {
		for k, e := range t.m {
			if !now.Before(e.expires) {
				delete(t.m, k)
			}
		}
		if len(t.m) >= maxTicketsIssued {
			return "", time.Time{}, errTooManyTickets
		}
	}
	t.m[sha256.Sum256([]byte(tok))] = ticketEntry{p: p, expires: exp}
	return tok, exp, nil
}

// redeem returns the ticket's principal and forgets the ticket.
func (t *tickets) redeem(tok string) (*Principal, bool) {
	k := sha256.Sum256([]byte(tok))
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.m[k]
	if !ok {
		return nil, false
	}
	delete(t.m, k)
	if !t.now().Before(e.expires) {
		return nil, false
	}
	return e.p, true
}
