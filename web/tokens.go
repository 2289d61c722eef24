package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Token errors. Clients never learn which one applied (they all answer
// 401); operators see them in debug logs and in `dispatchd token list`.
var (
	ErrBadToken     = errors.New("unknown or malformed token")
	ErrTokenExpired = errors.New("token expired")
	ErrTokenRevoked = errors.New("token revoked")
)

// tokenPrefix marks our tokens so secret scanners and people recognise them.
const tokenPrefix = "jjj"

// reloadEvery bounds how stale a running server's view of the credentials
// may be: a token revoked by the CLI, or on another node, stops working
// within this time.
const reloadEvery = time.Second

// Credential is one issued token as stored: never the token itself, only
// its SHA-256. A plain (fast) hash suffices because tokens carry 256 random
// bits: nobody can guess or brute-force a preimage, so a slow password KDF
// would only add CPU cost to every request without adding safety.
type Credential struct {
	ID        string    `json:"id"`
	Hash      string    `json:"sha256"`
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	Regions   []string  `json:"regions,omitempty"`
	WorkerID  string    `json:"worker_id,omitempty"`
	Created   time.Time `json:"created"`
	Expires   time.Time `json:"expires"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// IssueRequest describes a credential to issue.
type IssueRequest struct {
	Name     string
	Role     Role
	Regions  []string
	WorkerID string
	TTL      time.Duration
}

func (r IssueRequest) validate() error {
	if !r.Role.Valid() {
		return fmt.Errorf("role %q: want administrator, coordinator or worker", r.Role)
	}
	for _, reg := range r.Regions {
		if !ValidRegion(reg) {
			return fmt.Errorf("region %q: want BJ, TJ or HE", reg)
		}
	}
	if len(r.Regions) > 0 && r.Role != RoleCoordinator {
		return errors.New("regions apply to coordinators only")
	}
	if r.Role == RoleWorker && strings.TrimSpace(r.WorkerID) == "" {
		return errors.New("a worker credential needs a worker id")
	}
	if r.Role != RoleWorker && r.WorkerID != "" {
		return errors.New("a worker id applies to worker credentials only")
	}
	if r.TTL <= 0 {
		return errors.New("ttl must be positive")
	}
	return nil
}

// CredentialStore is where credentials are kept, each as its JSON under
// its id: the data dir's file for a single node (OpenCredentials), or Redis
// (redisstore.Credentials) for nodes that must accept each other's tokens.
// Declared here so that stores need not know the web types.
type CredentialStore interface {
	// Load returns every credential and a version that changes with every
	// write. When the version is still since, it may return a nil map:
	// nothing changed. "" is never a version.
	Load(ctx context.Context, since string) (creds map[string][]byte, version string, err error)
	// Add stores new credentials: all of them or, on error, none. Ids are
	// 64 random bits, so a clash with a stored one is not checked.
	Add(ctx context.Context, creds map[string][]byte) error
	// Update replaces credential id with what fn makes of its current
	// value (nil if there is none), atomically for that credential: if it
	// changed meanwhile, fn runs again on the newer value. An error of fn
	// changes nothing and is returned.
	Update(ctx context.Context, id string, fn func(cur []byte) ([]byte, error)) error
}

// Bounds on one call to the store: a reload happens on a request's path,
// so it must give up soon when the store hangs (the cache then serves); a
// write may carry thousands of credentials.
const (
	reloadTimeout = 2 * time.Second
	writeTimeout  = 30 * time.Second
)

// Credentials are the issued credentials, cached from a CredentialStore.
// The server only reads them and re-reads the store when reloadEvery has
// passed (cheaply: only a changed version is read in full); the `dispatchd
// token` commands change them.
type Credentials struct {
	store CredentialStore
	now   func() time.Time

	// io lets one reload or write talk to the store at a time, so that a
	// reload read before a write never replaces the cache after it.
	io sync.Mutex

	mu      sync.Mutex // guards the cache
	byID    map[string]Credential
	version string
	checked time.Time
}

// OpenCredentials loads the credentials file at path; a missing file is an
// empty set. now may be nil (time.Now).
func OpenCredentials(path string, now func() time.Time) (*Credentials, error) {
	return NewCredentials(newFileCredentials(path), now)
}

// NewCredentials loads the credentials kept in store. now may be nil
// (time.Now).
func NewCredentials(store CredentialStore, now func() time.Time) (*Credentials, error) {
	if now == nil {
		now = time.Now
	}
	c := &Credentials{store: store, now: now, byID: map[string]Credential{}}
	c.io.Lock()
	defer c.io.Unlock()
	if err := c.reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// reload refreshes the cache from the store; c.io must be held. On error
// the cache keeps the last good set: a half-edited file or a Redis outage
// must not log everybody out.
func (c *Credentials) reload() error {
	c.mu.Lock()
	since := c.version
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), reloadTimeout)
	defer cancel()
	raw, version, err := c.store.Load(ctx, since)
	var byID map[string]Credential
	if err == nil && (raw != nil || version != since) {
		byID, err = decodeCredentials(raw)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checked = c.now()
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	if byID != nil {
		c.byID = byID
	}
	c.version = version
	return nil
}

func decodeCredentials(raw map[string][]byte) (map[string]Credential, error) {
	byID := make(map[string]Credential, len(raw))
	for id, b := range raw {
		var cr Credential
		if err := json.Unmarshal(b, &cr); err != nil {
			return nil, fmt.Errorf("credential %s: %w", id, err)
		}
		if cr.ID != id {
			return nil, fmt.Errorf("credential %s: stored with id %q", id, cr.ID)
		}
		byID[id] = cr
	}
	return byID, nil
}

// Empty reports whether no credential was ever issued.
func (c *Credentials) Empty() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byID) == 0
}

// Issue creates a credential and returns its token, which exists nowhere
// else: print it once and forget it.
func (c *Credentials) Issue(req IssueRequest) (string, Credential, error) {
	if err := req.validate(); err != nil {
		return "", Credential{}, fmt.Errorf("issue token: %w", err)
	}
	toks, crs, err := c.issue([]IssueRequest{req})
	if err != nil {
		return "", Credential{}, fmt.Errorf("issue token: %w", err)
	}
	return toks[0], crs[0], nil
}

// IssueMany issues a credential per request in one write to the store, and
// returns their tokens in request order. It is all or nothing: every
// request is checked before anything is written.
func (c *Credentials) IssueMany(reqs []IssueRequest) ([]string, error) {
	for i, r := range reqs {
		if err := r.validate(); err != nil {
			return nil, fmt.Errorf("issue tokens: request %d: %w", i, err)
		}
	}
	if len(reqs) == 0 {
		return nil, nil
	}
	toks, _, err := c.issue(reqs)
	if err != nil {
		return nil, fmt.Errorf("issue tokens: %w", err)
	}
	return toks, nil
}

// issue creates valid requests' credentials and stores them in one Add.
func (c *Credentials) issue(reqs []IssueRequest) ([]string, []Credential, error) {
	now := c.now().UTC()
	toks := make([]string, len(reqs))
	crs := make([]Credential, len(reqs))
	raw := make(map[string][]byte, len(reqs))
	for i, req := range reqs {
		id, tok, err := newToken()
		if err != nil {
			return nil, nil, err
		}
		cr := Credential{
			ID: id, Hash: hashToken(tok), Name: req.Name, Role: req.Role,
			Regions: slices.Clone(req.Regions), WorkerID: req.WorkerID,
			Created: now, Expires: now.Add(req.TTL),
		}
		b, err := json.Marshal(cr)
		if err != nil {
			return nil, nil, err
		}
		toks[i], crs[i], raw[id] = tok, cr, b
	}
	c.io.Lock()
	defer c.io.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	if err := c.store.Add(ctx, raw); err != nil {
		return nil, nil, err
	}
	// The issuing server accepts its tokens at once; the version stays
	// behind, so the next reload also brings what others wrote meanwhile.
	c.mu.Lock()
	for _, cr := range crs {
		c.byID[cr.ID] = cr
	}
	c.mu.Unlock()
	return toks, crs, nil
}

// newToken returns a fresh credential id and its token.
func newToken() (id, token string, err error) {
	var idb [8]byte
	var secret [32]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return "", "", err
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return "", "", err
	}
	id = hex.EncodeToString(idb[:])
	return id, tokenPrefix + "_" + id + "_" + base64.RawURLEncoding.EncodeToString(secret[:]), nil
}

// Revoke marks a credential revoked; it stays listed for the audit trail.
func (c *Credentials) Revoke(id string) error {
	c.io.Lock()
	defer c.io.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	var got Credential
	err := c.store.Update(ctx, id, func(cur []byte) ([]byte, error) {
		if cur == nil {
			return nil, ErrBadToken
		}
		var cr Credential
		if err := json.Unmarshal(cur, &cr); err != nil {
			return nil, err
		}
		if cr.RevokedAt.IsZero() {
			cr.RevokedAt = c.now().UTC()
		}
		got = cr
		return json.Marshal(cr)
	})
	if err != nil {
		return fmt.Errorf("revoke token %s: %w", id, err)
	}
	c.mu.Lock()
	c.byID[id] = got
	c.mu.Unlock()
	return nil
}

// List returns every credential, oldest first, as the store has them now.
func (c *Credentials) List() ([]Credential, error) {
	c.io.Lock()
	err := c.reload()
	c.io.Unlock()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	out := make([]Credential, 0, len(c.byID))
	for _, cr := range c.byID {
		out = append(out, cr)
	}
	c.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Authenticate resolves a token. The lookup by id is not secret (the id is
// not the secret part); the comparison of hashes is constant-time so the
// time taken says nothing about how much of a guess was right.
func (c *Credentials) Authenticate(token string) (*Principal, error) {
	id, ok := tokenID(token)
	if !ok {
		return nil, ErrBadToken
	}
	cr, err := c.lookup(id)
	if err != nil {
		return nil, err
	}
	want, err := hex.DecodeString(cr.Hash)
	if err != nil {
		return nil, ErrBadToken
	}
	got := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(got[:], want) != 1 {
		return nil, ErrBadToken
	}
	if err := c.checkLive(cr); err != nil {
		return nil, err
	}
	return &Principal{TokenID: cr.ID, Name: cr.Name, Role: cr.Role,
		Regions: slices.Clone(cr.Regions), WorkerID: cr.WorkerID}, nil
}

// Valid reports whether the credential with this id is still usable; open
// streams call it so a revoked or expired credential is cut off.
func (c *Credentials) Valid(id string) error {
	cr, err := c.lookup(id)
	if err != nil {
		return err
	}
	return c.checkLive(cr)
}

func (c *Credentials) checkLive(cr Credential) error {
	if !cr.RevokedAt.IsZero() {
		return ErrTokenRevoked
	}
	if !c.now().Before(cr.Expires) {
		return ErrTokenExpired
	}
	return nil
}

func (c *Credentials) lookup(id string) (Credential, error) {
	c.mu.Lock()
	stale := c.now().Sub(c.checked) >= reloadEvery
	c.mu.Unlock()
	// One request reloads; the others meanwhile answer from the cache
	// rather than queue behind a slow store.
	if stale && c.io.TryLock() {
		_ = c.reload() // on error the last good set serves
		c.io.Unlock()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cr, ok := c.byID[id]
	if !ok {
		return Credential{}, ErrBadToken
	}
	return cr, nil
}

func tokenID(token string) (string, bool) {
	rest, ok := strings.CutPrefix(token, tokenPrefix+"_")
	if !ok {
		return "", false
	}
	id, secret, ok := strings.Cut(rest, "_")
	if !ok || len(id) != 16 || len(secret) < 40 {
		return "", false
	}
	return id, true
}

func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}
