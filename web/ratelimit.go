package web

import (
	"net/http"
	"time"
)

// Worker messages per connection: a phone reports a position every 15 s
// or so and answers rarely; more than this is a bug or abuse, and must not
// load the engine for everyone else.
const (
	msgRate  = 5.0  // per second, sustained
	msgBurst = 20.0 // at once
)

var errRateLimited = &APIError{Status: http.StatusTooManyRequests, Code: CodeRateLimited,
	Message: "too many messages; slow down and resend"}

// rateLimit is a token bucket.
type rateLimit struct {
	tokens float64
	last   time.Time
}

func (l *rateLimit) allow(now time.Time) bool {
	if l.last.IsZero() {
		l.tokens = msgBurst
	} else {
		l.tokens = min(msgBurst, l.tokens+now.Sub(l.last).Seconds()*msgRate)
	}
	l.last = now
	if l.tokens < 1 {
		return false
	}
	l.tokens--
	return true
}
