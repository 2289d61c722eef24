package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "c.json")
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg, err := loadConfig(filepath.Join(dir, "missing.json"), false)
	if err != nil || cfg.Listen != "127.0.0.1:8080" || time.Duration(cfg.TokenTTL) != 720*time.Hour {
		t.Fatalf("defaults: got %+v, %v", cfg, err)
	}
	if _, err := loadConfig(filepath.Join(dir, "missing.json"), true); err == nil {
		t.Error("a named missing config: got nil error")
	}
	cfg, err = loadConfig(write(`{"listen":"127.0.0.1:9","token_ttl":"1h","event_retention":"0s","stream":{"flush_gap":"5ms"}}`), true)
	if err != nil || cfg.Listen != "127.0.0.1:9" || time.Duration(cfg.TokenTTL) != time.Hour || cfg.retention() != 0 ||
		time.Duration(cfg.Stream.FlushGap) != 5*time.Millisecond {
		t.Fatalf("got %+v, %v", cfg, err)
	}
	for _, bad := range []string{
		`{"lisen":"x"}`,
		`{"token_ttl":"forever"}`,
		`{"token_ttl":"-1h"}`,
		`{"tls_cert":"a.pem"}`,
		`{"data_dir":""}`,
		`{"stream":{"flush_gap":"-1ms"}}`,
	} {
		if _, err := loadConfig(write(bad), true); err == nil {
			t.Errorf("%s: got nil error", bad)
		}
	}
}

func TestTokenCommands(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	issue := func(args ...string) string {
		t.Helper()
		out.Reset()
		if err := run(t.Context(), append([]string{"token", "issue", "-data-dir", dir}, args...), &out, io.Discard); err != nil {
			t.Fatalf("issue %v: %v", args, err)
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		return lines[len(lines)-1]
	}
	tok := issue("--role", "coordinator", "--regions", "HE", "--name", "Hebei desk", "--ttl", "720h")
	if !strings.HasPrefix(tok, "jjj_") {
		t.Fatalf("got token line %q", tok)
	}
	issue("--role", "worker", "--worker", "W123")
	for _, bad := range [][]string{{"--role", "root"}, {"--role", "worker"}, {"--role", "coordinator", "--regions", "SH"}} {
		if err := run(t.Context(), append([]string{"token", "issue", "-data-dir", dir}, bad...), io.Discard, io.Discard); err == nil {
			t.Errorf("issue %v: got nil error", bad)
		}
	}
	id := strings.Split(tok, "_")[1]
	if err := run(t.Context(), []string{"token", "revoke", "-data-dir", dir, id}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run(t.Context(), []string{"token", "list", "-data-dir", dir}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(id + `\s+coordinator\s+HE\s+Hebei desk\s+\S+\s+revoked`).MatchString(out.String()) {
		t.Fatalf("list: got\n%s", out.String())
	}
	if strings.Contains(out.String(), tok) {
		t.Fatal("list shows a token")
	}
}

// syncBuffer is a bytes.Buffer safe to read while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// serveForTest runs `dispatchd serve` in-process until the returned stop
// is called; it returns the demo token it printed.
func serveForTest(t *testing.T, cfg map[string]any, client *http.Client, base string) (token string, stop func() error) {
	t.Helper()
	dir := t.TempDir()
	cfg["data_dir"] = filepath.Join(dir, "data")
	cfg["policy_file"] = filepath.Join("..", "..", "configs", "policy.json")
	b, _ := json.Marshal(cfg)
	path := filepath.Join(dir, "dispatchd.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve", "-config", path}, &stdout, &stderr) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := client.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("not healthy\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if m := regexp.MustCompile(`token \(shown once\): (\S+)`).FindStringSubmatch(stdout.String()); m != nil {
		token = m[1]
	}
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("serve did not stop")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return token, stop
}

// The whole binary's wiring: the demo token works, a stream is open, and
// a signal (context end) closes it with 1001 and exits cleanly.
func TestServeDemoAndGracefulShutdown(t *testing.T) {
	addr := freeAddr(t)
	base := "http://" + addr
	tok, stop := serveForTest(t, map[string]any{"listen": addr, "demo": true, "log_level": "warn"}, http.DefaultClient, base)
	if tok == "" {
		t.Fatal("no demo token printed")
	}
	req, _ := http.NewRequest("GET", base+"/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("me with the demo token: %v %v", resp, err)
	}
	resp.Body.Close()

	c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/api/v1/stream?after=0", http.Header{"Authorization": {"Bearer " + tok}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	readErr := make(chan error, 1)
	go func() {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				readErr <- err
				return
			}
		}
	}()
	if err := stop(); err != nil {
		t.Fatalf("serve returned %v, want nil", err)
	}
	select {
	case err := <-readErr:
		if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
			t.Fatalf("got %v, want close 1001", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no close frame")
	}
}

// With a certificate and key the server speaks HTTPS.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	addr := freeAddr(t)
	_, stop := serveForTest(t, map[string]any{"listen": addr, "demo": false, "log_level": "warn",
		"tls_cert": certFile, "tls_key": keyFile}, client, "https://"+addr)
	// Plain HTTP to the TLS port is refused by the TLS layer.
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil && resp.StatusCode == 200 {
		t.Fatal("plain HTTP answered 200 on the TLS port")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})
}
