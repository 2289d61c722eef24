package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// originSet decides which web pages may open a websocket. Browsers send
// Origin on every websocket handshake and cannot forge it, so this is what
// stops another site's page from riding a user's ticket. Clients that are
// not browsers send no Origin and are judged by their credential alone.
type originSet map[string]bool // "scheme://host[:port]", lower case

func parseOrigins(list []string) (originSet, error) {
	set := originSet{}
	for _, o := range list {
		u, err := url.Parse(strings.TrimSpace(o))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return nil, fmt.Errorf("allowed origin %q: want scheme://host[:port]", o)
		}
		set[strings.ToLower(u.Scheme+"://"+u.Host)] = true
	}
	return set, nil
}

// allowed reports whether r's Origin is the server's own host or one of
// the configured origins. Never true for everyone.
func (s originSet) allowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	return s[strings.ToLower(u.Scheme+"://"+u.Host)]
}
