package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/jjj-social-work/dispatch/web"
	"github.com/jjj-social-work/dispatch/web/sim"
	"github.com/jjj-social-work/dispatch/web/ui"
)

// serveFlags override the config file when given.
type serveFlags struct {
	fs                        *flag.FlagSet
	config, listen, dataDir   *string
	tlsCert, tlsKey, logLevel *string
	demo                      *bool
}

func parseServeFlags(args []string) (serveFlags, error) {
	fs := flag.NewFlagSet("dispatchd serve", flag.ContinueOnError)
	f := serveFlags{
		fs:       fs,
		config:   fs.String("config", "configs/dispatchd.json", "config file"),
		listen:   fs.String("listen", "", "listen address"),
		dataDir:  fs.String("data-dir", "", "data directory"),
		tlsCert:  fs.String("tls-cert", "", "TLS certificate file (with -tls-key: serve HTTPS)"),
		tlsKey:   fs.String("tls-key", "", "TLS private key file"),
		logLevel: fs.String("log-level", "", "debug, info, warn or error"),
		demo:     fs.Bool("demo", false, "at first start, issue and print a local demo coordinator token"),
	}
	return f, fs.Parse(args)
}

func (f serveFlags) apply(cfg *config) {
	f.fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "listen":
			cfg.Listen = *f.listen
		case "data-dir":
			cfg.DataDir = *f.dataDir
		case "tls-cert":
			cfg.TLSCert = *f.tlsCert
		case "tls-key":
			cfg.TLSKey = *f.tlsKey
		case "log-level":
			cfg.LogLevel = *f.logLevel
		case "demo":
			cfg.Demo = *f.demo
		}
	})
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// runServe wires the store, the engine and the web server and runs them
// until ctx ends. The web server drains first (every acknowledged change
// is already durable), then the engine stops, then the store closes.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags, err := parseServeFlags(args)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(*flags.config, isSet(flags.fs, "config"))
	if err != nil {
		return err
	}
	flags.apply(&cfg)
	if err := cfg.validate(); err != nil {
		return err
	}
	logger, err := newLogger(stderr, cfg.LogLevel)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	store, ready, err := openStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer store.Close()
	creds, err := openCredentials(cfg, store)
	if err != nil {
		return err
	}
	firstStart := creds.Empty()

	eng, err := newEngine(ctx, cfg, store, logger)
	if err != nil {
		return err
	}
	srv, err := web.New(web.Options{
		Auth: creds, Events: store, StartSeq: eng.LastSeq(), Engine: eng, Ready: ready,
		Logger: logger.With("component", "web"), AllowedOrigins: cfg.AllowedOrigins,
		Limits: web.StreamLimits{QueueBytes: cfg.Stream.QueueBytes, QueueFrames: cfg.Stream.QueueFrames,
			RingSize: cfg.Stream.RingSize, PongWait: time.Duration(cfg.Stream.PongWait),
			FlushGap: time.Duration(cfg.Stream.FlushGap)},
		UI: ui.Handler(),
	})
	if err != nil {
		return err
	}

	if cfg.Demo && firstStart {
		if err := issueDemoToken(creds, cfg, stdout); err != nil {
			return err
		}
	}
	listening := make(chan net.Addr, 1)
	serve := func(ctx context.Context) error {
		return srv.ListenAndServe(ctx, web.ServeOptions{
			Addr: cfg.Listen, CertFile: cfg.TLSCert, KeyFile: cfg.TLSKey,
			ShutdownTimeout: time.Duration(cfg.ShutdownTimeout),
			Ready:           func(a net.Addr) { listening <- a },
		})
	}
	var extra []func(context.Context) error
	if cfg.Demo && cfg.DemoScenario != "" {
		extra = append(extra, func(ctx context.Context) error {
			return runDemo(ctx, cfg, creds, listening, logger.With("component", "demo"))
		})
	}
	return runAll(ctx, eng, serve, extra...)
}

// runDemo plays the demo scenario against this server once it listens. A
// failing demo is logged and ends; it never takes the server down.
func runDemo(ctx context.Context, cfg config, creds *web.Credentials, listening <-chan net.Addr, logger *slog.Logger) error {
	var addr net.Addr
	select {
	case <-ctx.Done():
		return nil
	case addr = <-listening:
	}
	if cfg.TLSCert != "" {
		logger.Warn("demo scenario skipped: it runs over plain HTTP only")
		return nil
	}
	_, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		logger.Error("demo scenario", "err", err)
		return nil
	}
	err = sim.RunDemo(ctx, sim.DemoOptions{
		BaseURL: "http://" + net.JoinHostPort("127.0.0.1", port), ScenarioFile: cfg.DemoScenario,
		Credentials: creds, StateDir: cfg.DataDir, Logger: logger,
	})
	if err != nil {
		logger.Error("demo scenario stopped", "err", err)
	}
	return nil
}

// issueDemoToken prints a coordinator token for the local demo. It exists
// only at the first start with no credentials (an empty data dir, or an
// empty Redis), and only when asked for.
func issueDemoToken(creds *web.Credentials, cfg config, stdout io.Writer) error {
	tok, _, err := creds.Issue(web.IssueRequest{Name: "demo joint desk", Role: web.RoleCoordinator,
		TTL: time.Duration(cfg.TokenTTL)})
	if err != nil {
		return err
	}
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	host := cfg.Listen
	if h, p, err := net.SplitHostPort(cfg.Listen); err == nil && (h == "" || h == "0.0.0.0" || h == "::") {
		host = net.JoinHostPort("127.0.0.1", p)
	}
	fmt.Fprintf(stdout, "demo coordinator token (shown once): %s\nopen %s://%s/#token=%s\n", tok, scheme, host, tok)
	return nil
}
