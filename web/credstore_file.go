package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// fileCredentials is the CredentialStore of a single node: the data dir's
// credentials.json, mode 0600. Writes are atomic (temp file, fsync, rename,
// fsync of the directory), so a crash leaves the old or the new file, never
// half. The version is the file's modification time and size.
type fileCredentials struct {
	path string
	mu   sync.Mutex // one read-modify-write at a time in this process
}

func newFileCredentials(path string) *fileCredentials { return &fileCredentials{path: path} }

var _ CredentialStore = (*fileCredentials)(nil)

type credentialsFile struct {
	Version     int               `json:"version"`
	Credentials []json.RawMessage `json:"credentials"`
}

// absent is the version of a missing file: an empty set.
const absent = "absent"

func (f *fileCredentials) Load(_ context.Context, since string) (map[string][]byte, string, error) {
	fi, err := os.Stat(f.path)
	if errors.Is(err, os.ErrNotExist) {
		if since == absent {
			return nil, absent, nil
		}
		return map[string][]byte{}, absent, nil
	}
	if err != nil {
		return nil, "", err
	}
	// Stat before read: what is read is at least as new as the version.
	version := fmt.Sprintf("%d:%d", fi.ModTime().UnixNano(), fi.Size())
	if version == since {
		return nil, version, nil
	}
	m, err := f.read()
	if err != nil {
		return nil, "", err
	}
	return m, version, nil
}

// Add and Update re-read the file first, keeping what another process
// (the CLI) wrote since this one last loaded it.

func (f *fileCredentials) Add(_ context.Context, creds map[string][]byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, err := f.read()
	if err != nil {
		return err
	}
	for id, b := range creds {
		m[id] = b
	}
	return f.write(m)
}

func (f *fileCredentials) Update(_ context.Context, id string, fn func([]byte) ([]byte, error)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, err := f.read()
	if err != nil {
		return err
	}
	b, err := fn(m[id])
	if err != nil {
		return err
	}
	m[id] = b
	return f.write(m)
}

// read returns the file's credentials by id; a missing file is empty.
func (f *fileCredentials) read() (map[string][]byte, error) {
	b, err := os.ReadFile(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string][]byte{}, nil
	}
	if err != nil {
		return nil, err
	}
	var file credentialsFile
	if err := json.Unmarshal(b, &file); err != nil {
		return nil, fmt.Errorf("%s: %w", f.path, err)
	}
	m := make(map[string][]byte, len(file.Credentials))
	for i, raw := range file.Credentials {
		var head struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(raw, &head); err != nil || head.ID == "" {
			return nil, fmt.Errorf("%s: credential %d has no id", f.path, i)
		}
		m[head.ID] = raw
	}
	return m, nil
}

// write replaces the file with m, sorted by id.
func (f *fileCredentials) write(m map[string][]byte) error {
	file := credentialsFile{Version: 1, Credentials: make([]json.RawMessage, 0, len(m))}
	for _, id := range slices.Sorted(maps.Keys(m)) {
		file.Credentials = append(file.Credentials, m[id])
	}
	b, err := json.MarshalIndent(file, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(f.path, append(b, '\n'), 0o600)
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
