package sim

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// ErrNotLoopback is returned for a load target off this machine.
var ErrNotLoopback = errors.New("target is not a loopback address")

// LoopbackURL checks that raw names a server on this machine's loopback
// interface and returns it normalised (no trailing slash, "localhost"
// pinned to 127.0.0.1). The load tool opens tens of thousands of
// connections and must never be pointed at someone else's server, so only
// loopback IP literals and "localhost" pass: another name could resolve
// elsewhere between the check and the dial.
func LoopbackURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("check target %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("check target %q: want an http:// or https:// URL", raw)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("check target %q: want scheme://host:port only", raw)
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		host = "127.0.0.1"
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return "", fmt.Errorf("check target %q: %w", raw, ErrNotLoopback)
	}
	hp := host
	if p := u.Port(); p != "" {
		hp = net.JoinHostPort(host, p)
	} else if ip.To4() == nil {
		hp = "[" + host + "]"
	}
	return u.Scheme + "://" + hp, nil
}
