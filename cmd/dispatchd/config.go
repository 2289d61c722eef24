package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
)

// config is the whole server configuration. Zero values mean the documented
// defaults; secrets come from the environment, never from this file.
type config struct {
	// Listen is the HTTP address; default 127.0.0.1:8080.
	Listen string `json:"listen"`
	// DataDir holds the embedded store; default ./data.
	DataDir string `json:"data_dir"`
}

func loadConfig(path string) (config, error) {
	cfg := config{Listen: "127.0.0.1:8080", DataDir: "data"}
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("load config: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return cfg, fmt.Errorf("load config %s: %w", path, err)
	}
	return cfg, nil
}
