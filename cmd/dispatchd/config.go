package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// config is the whole server configuration, read from configs/dispatchd.json
// and overridden by flags. Zero values mean the documented defaults.
// Secrets never live here: credentials are issued into the data dir, or
// into Redis when nodes share one (`dispatchd token`).
type config struct {
	// Listen is the HTTP(S) address; default 127.0.0.1:8080.
	Listen string `json:"listen"`
	// DataDir holds the embedded store and, without Redis, the credentials
	// file; default ./data.
	DataDir string `json:"data_dir"`
	// RedisURL, when set, puts state in Redis instead of the embedded
	// store, shared by every node with the same URL (docs/operations.md);
	// DISPATCH_REDIS_URL overrides it.
	RedisURL string `json:"redis_url"`
	// TLSCert and TLSKey, when both set, make the server speak HTTPS
	// (browsers share a phone's position only with secure pages).
	TLSCert string `json:"tls_cert"`
	TLSKey  string `json:"tls_key"`
	// AllowedOrigins are extra origins whose pages may open the stream;
	// the server's own host is always allowed.
	AllowedOrigins []string `json:"allowed_origins"`
	// PolicyFile is the matching policy (skills, rest limits, mutual aid);
	// default configs/policy.json; missing means the engine's defaults.
	PolicyFile string `json:"policy_file"`
	// TokenTTL is the default lifetime of issued tokens; default 720h.
	TokenTTL duration `json:"token_ttl"`
	// Demo issues a local coordinator token at the first start (empty data
	// dir) and prints it, so `make run` opens a usable dashboard.
	Demo bool `json:"demo"`
	// DemoScenario, with Demo on, is a scenario the server plays against
	// itself once it listens (simulated workers and desks); empty: none.
	DemoScenario string `json:"demo_scenario"`
	// LogLevel is debug, info, warn or error; default info.
	LogLevel string `json:"log_level"`
	// EventRetention bounds how long events (position history included,
	// PRODUCT §9) are kept; default 72h. 0s keeps everything.
	EventRetention *duration `json:"event_retention"`
	// ShutdownTimeout bounds the graceful drain; default 10s.
	ShutdownTimeout duration `json:"shutdown_timeout"`
	// Stream bounds each websocket connection; zero values are defaults.
	Stream streamConfig `json:"stream"`
}

// streamConfig mirrors web.StreamLimits in the config file.
type streamConfig struct {
	QueueBytes  int      `json:"queue_bytes"`  // default 1 MiB
	QueueFrames int      `json:"queue_frames"` // default 4096
	RingSize    int      `json:"ring_size"`    // default 4096 recent events
	PongWait    duration `json:"pong_wait"`    // default 60s
	FlushGap    duration `json:"flush_gap"`    // default 35ms between writes to one busy connection
}

func defaultConfig() config {
	return config{
		Listen:          "127.0.0.1:8080",
		DataDir:         "data",
		PolicyFile:      filepath.Join("configs", "policy.json"),
		TokenTTL:        duration(720 * time.Hour),
		LogLevel:        "info",
		ShutdownTimeout: duration(10 * time.Second),
	}
}

// loadConfig reads path over the defaults. A missing file at the default
// path is not an error (the defaults serve); a named one must exist.
func loadConfig(path string, mustExist bool) (config, error) {
	cfg := defaultConfig()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && !mustExist {
		return cfg, nil
	}
	if err != nil {
		return cfg, fmt.Errorf("load config: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return cfg, fmt.Errorf("load config %s: %w", path, err)
	}
	return cfg, cfg.validate()
}

func (c config) validate() error {
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("config: tls_cert and tls_key go together")
	}
	if c.TokenTTL <= 0 {
		return errors.New("config: token_ttl must be positive")
	}
	if c.DataDir == "" {
		return errors.New("config: data_dir is empty")
	}
	if s := c.Stream; s.QueueBytes < 0 || s.QueueFrames < 0 || s.RingSize < 0 || s.PongWait < 0 || s.FlushGap < 0 {
		return errors.New("config: stream limits must not be negative")
	}
	return nil
}

func (c config) retention() time.Duration {
	if c.EventRetention == nil {
		return 72 * time.Hour
	}
	return time.Duration(*c.EventRetention)
}

func (c config) credentialsPath() string { return filepath.Join(c.DataDir, "credentials.json") }

// duration is a time.Duration written as "720h" in JSON.
type duration time.Duration

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want a string like \"90s\" or \"720h\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = duration(v)
	return nil
}

func (d duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }
