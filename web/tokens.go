package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
// file may be: a token revoked by the CLI stops working within this time.
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

type credentialsFile struct {
	Version     int          `json:"version"`
	Credentials []Credential `json:"credentials"`
}

// Credentials is the credentials file of the data dir. The server only
// reads it (and notices changes within reloadEvery); the `dispatchd token`
// commands change it. Writes are atomic (temp file, fsync, rename, fsync of
// the directory), so a crash leaves the old or the new file, never half.
type Credentials struct {
	path string
	now  func() time.Time

	mu      sync.Mutex
	byID    map[string]Credential
	stamp   fileStamp
	checked time.Time
}

type fileStamp struct {
	mod  time.Time
	size int64
}

// OpenCredentials loads the credentials file at path; a missing file is an
// empty set. now may be nil (time.Now).
func OpenCredentials(path string, now func() time.Time) (*Credentials, error) {
	if now == nil {
		now = time.Now
	}
	c := &Credentials{path: path, now: now}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.reloadLocked(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Credentials) reloadLocked() error {
	c.checked = c.now()
	fi, err := os.Stat(c.path)
	if errors.Is(err, os.ErrNotExist) {
		c.byID = map[string]Credential{}
		c.stamp = fileStamp{}
		return nil
	}
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	st := fileStamp{fi.ModTime(), fi.Size()}
	if c.byID != nil && st == c.stamp {
		return nil
	}
	b, err := os.ReadFile(c.path)
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	var f credentialsFile
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("credentials %s: %w", c.path, err)
	}
	byID := make(map[string]Credential, len(f.Credentials))
	for _, cr := range f.Credentials {
		byID[cr.ID] = cr
	}
	c.byID, c.stamp = byID, st
	return nil
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
	var idb [8]byte
	var secret [32]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return "", Credential{}, fmt.Errorf("issue token: %w", err)
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return "", Credential{}, fmt.Errorf("issue token: %w", err)
	}
	id := hex.EncodeToString(idb[:])
	token := tokenPrefix + "_" + id + "_" + base64.RawURLEncoding.EncodeToString(secret[:])
	now := c.now().UTC()
	cr := Credential{
		ID: id, Hash: hashToken(token), Name: req.Name, Role: req.Role,
		Regions: slices.Clone(req.Regions), WorkerID: req.WorkerID,
		Created: now, Expires: now.Add(req.TTL),
	}
	err := c.update(func(m map[string]Credential) error {
		m[id] = cr
		return nil
	})
	if err != nil {
		return "", Credential{}, fmt.Errorf("issue token: %w", err)
	}
	return token, cr, nil
}

// Revoke marks a credential revoked; it stays listed for the audit trail.
func (c *Credentials) Revoke(id string) error {
	err := c.update(func(m map[string]Credential) error {
		cr, ok := m[id]
		if !ok {
			return ErrBadToken
		}
		if cr.RevokedAt.IsZero() {
			cr.RevokedAt = c.now().UTC()
			m[id] = cr
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("revoke token %s: %w", id, err)
	}
	return nil
}

// List returns every credential, oldest first.
func (c *Credentials) List() ([]Credential, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.reloadLocked(); err != nil {
		return nil, err
	}
	out := make([]Credential, 0, len(c.byID))
	for _, cr := range c.byID {
		out = append(out, cr)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// update re-reads the file, applies fn and writes the result atomically.
// Re-reading first keeps changes made by another process since we loaded.
func (c *Credentials) update(fn func(map[string]Credential) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byID = nil // force a re-read
	if err := c.reloadLocked(); err != nil {
		return err
	}
	m := make(map[string]Credential, len(c.byID)+1)
	for k, v := range c.byID {
		m[k] = v
	}
	if err := fn(m); err != nil {
		return err
	}
	f := credentialsFile{Version: 1}
	for _, cr := range m {
		f.Credentials = append(f.Credentials, cr)
	}
	sort.Slice(f.Credentials, func(i, j int) bool { return f.Credentials[i].ID < f.Credentials[j].ID })
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(c.path, append(b, '\n'), 0o600); err != nil {
		return err
	}
	c.byID = m
	if fi, err := os.Stat(c.path); err == nil {
		c.stamp = fileStamp{fi.ModTime(), fi.Size()}
	}
	return nil
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
	defer c.mu.Unlock()
	if c.now().Sub(c.checked) >= reloadEvery {
		// A failed reload keeps the last good set: a half-edited file must
		// not log everybody out.
		_ = c.reloadLocked()
	}
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

// writeFileAtomic replaces path with data: write a temp file in the same
// directory, fsync it, rename it over path, fsync the directory so the
// rename itself survives a power cut.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
