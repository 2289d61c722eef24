package web

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
)

// Role is what a credential may do (PRODUCT §9).
type Role string

// The three roles.
const (
	RoleAdmin       Role = "administrator"
	RoleCoordinator Role = "coordinator"
	RoleWorker      Role = "worker"
)

// Valid reports whether r is one of the three roles.
func (r Role) Valid() bool {
	return r == RoleAdmin || r == RoleCoordinator || r == RoleWorker
}

// Regions are the three regions a coordinator may be scoped to.
var Regions = []string{"BJ", "TJ", "HE"}

// ValidRegion reports whether s is BJ, TJ or HE.
func ValidRegion(s string) bool { return slices.Contains(Regions, s) }

// Principal is who is calling, as resolved from a credential.
type Principal struct {
	TokenID string
	Name    string
	Role    Role
	// Regions scopes a coordinator; empty means all three.
	Regions []string
	// WorkerID binds a worker credential to exactly one worker.
	WorkerID string
}

// IsStaff reports whether p may see personal data (positions, phones):
// coordinators and administrators.
func (p *Principal) IsStaff() bool {
	return p.Role == RoleAdmin || p.Role == RoleCoordinator
}

// SeesRegion reports whether p may see things in region: administrators and
// unscoped coordinators see all, scoped coordinators only their regions,
// workers no region as such (they see their own data only).
func (p *Principal) SeesRegion(region string) bool {
	switch p.Role {
	case RoleAdmin:
		return true
	case RoleCoordinator:
		return len(p.Regions) == 0 || slices.Contains(p.Regions, region)
	}
	return false
}

// Scoped reports whether p is a coordinator limited to some regions.
func (p *Principal) Scoped() bool {
	return p.Role == RoleCoordinator && len(p.Regions) > 0
}

type principalKey struct{}

func withPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// principalFrom returns the caller resolved by the auth middleware.
func principalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// bearerToken extracts the token of an "Authorization: Bearer" header.
func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// access says which roles may call a route; finer checks (own worker,
// region) happen in the handler, where the resource is known.
type access int

const (
	accessPublic access = iota
	accessAny           // any valid credential
	accessStaff         // coordinators and administrators
	accessAdmin         // administrators only
	accessWorker        // workers only (their own data)
)

func (a access) allows(p *Principal) bool {
	switch a {
	case accessPublic, accessAny:
		return true
	case accessStaff:
		return p.IsStaff()
	case accessAdmin:
		return p.Role == RoleAdmin
	case accessWorker:
		return p.Role == RoleWorker
	}
	return false
}

// Authenticator resolves a bearer token to a principal and tells whether a
// credential is still valid (open streams re-check it). *Credentials
// implements it.
type Authenticator interface {
	Authenticate(token string) (*Principal, error)
	Valid(tokenID string) error
}

// authenticate wraps h so that it runs only for a caller whose credential
// is valid and whose role the route allows.
func (s *Server) authenticate(a access, h http.Handler) http.Handler {
	if a == accessPublic {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := bearerToken(r)
		if !ok {
			writeError(w, s.log, errUnauthenticated)
			return
		}
		p, err := s.auth.Authenticate(tok)
		if err != nil {
			logAuthFailure(r, s.log, tok, err)
			writeError(w, s.log, errUnauthenticated)
			return
		}
		if !a.allows(p) {
			writeError(w, s.log, errForbidden)
			return
		}
		h.ServeHTTP(w, r.WithContext(withPrincipal(r.Context(), p)))
	})
}

// logAuthFailure tells operators (at debug level) why a credential was
// refused, naming it by its id — never the token itself.
func logAuthFailure(r *http.Request, fallback *slog.Logger, tok string, err error) {
	id, _ := tokenID(tok)
	logFrom(r.Context(), fallback).Debug("authentication failed", "token_id", id, "reason", err)
}
