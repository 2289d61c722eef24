package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch/redisstore"
	"github.com/jjj-social-work/dispatch/web"
	"github.com/jjj-social-work/dispatch/web/sim"
)

// adminTokenEnv may hold an administrator token; secrets never go on the
// command line, where other users can read them.
const adminTokenEnv = "DISPATCH_ADMIN_TOKEN"

// redisURLEnv is the servers' own variable for a shared Redis.
const redisURLEnv = "DISPATCH_REDIS_URL"

type options struct {
	url, dataDir, tokens string
	load                 sim.LoadOptions
	tokenTTL, maxTime    time.Duration
	json, prepare        bool
	logLevel, cpuProfile string
	redisURL             string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("dispatchload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8080", "server to measure (loopback only)")
	fs.StringVar(&o.dataDir, "data-dir", "data", "the server's data dir: credentials are issued into its credentials.json")
	fs.StringVar(&o.redisURL, "redis-url", os.Getenv(redisURLEnv), "the servers' Redis (loopback only): credentials are issued into it instead of the data dir")
	fs.StringVar(&o.tokens, "tokens", "", "file keeping the run's credentials for reuse (default DATA-DIR/load-credentials.json)")
	fs.IntVar(&o.load.Workers, "workers", 100, fmt.Sprintf("simulated workers (at most %d)", sim.MaxLoadWorkers))
	fs.IntVar(&o.load.Coordinators, "coordinators", 10, fmt.Sprintf("simulated coordinators (at most %d)", sim.MaxLoadCoordinators))
	fs.Float64Var(&o.load.Rate, "rate", 10, fmt.Sprintf("incidents per second (at most %d)", sim.MaxLoadRate))
	fs.DurationVar(&o.load.Duration, "duration", 10*time.Second, fmt.Sprintf("how long incidents are driven (at most %v)", sim.MaxLoadDuration))
	fs.DurationVar(&o.load.Positions, "positions", 0, "every worker shares its position this often while driving (0: never)")
	fs.DurationVar(&o.load.Settle, "settle", 3*time.Second, "idle time before the server's memory is read")
	fs.Uint64Var(&o.load.Seed, "seed", 1, "seed of the roster and incidents")
	fs.DurationVar(&o.tokenTTL, "token-ttl", 24*time.Hour, "lifetime of issued credentials")
	fs.DurationVar(&o.maxTime, "max-time", 30*time.Minute, "hard bound on the whole run, setup included")
	fs.BoolVar(&o.json, "json", false, "print the report as JSON")
	fs.BoolVar(&o.prepare, "prepare", false, "only issue the run's credentials into the data dir (and the -tokens file), then exit")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write the tool's own CPU profile here")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.tokens == "" {
		o.tokens = filepath.Join(o.dataDir, "load-credentials.json")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	// Refuse a remote target before touching anything else.
	if o.load.BaseURL, err = sim.LoopbackURL(o.url); err != nil {
		return err
	}
	if err := o.load.Validate(); err != nil {
		return err
	}
	logger, err := newLogger(stderr, o.logLevel)
	if err != nil {
		return err
	}
	if err := raiseFileLimit(uint64(o.load.Workers+o.load.Coordinators) + 512); err != nil {
		return err
	}
	creds, closeCreds, err := openCredentials(ctx, o)
	if err != nil {
		return err
	}
	defer closeCreds()
	if o.prepare {
		return prepare(ctx, o, creds, stdout)
	}
	admin, retire, err := adminToken(creds)
	if err != nil {
		return err
	}
	defer retire()
	ctx, cancel := context.WithTimeout(ctx, o.maxTime)
	defer cancel()
	o.load.AdminToken, o.load.Logger = admin, logger
	o.load.Issuer = sim.CachedCredentialsIssuer(creds, o.tokenTTL, o.tokens)
	stopProfile, err := startProfile(o.cpuProfile)
	if err != nil {
		return err
	}
	rep, err := sim.RunLoad(ctx, o.load)
	stopProfile()
	if err != nil {
		return err
	}
	return printReport(stdout, rep, o.json)
}

// prepare issues the run's credentials ahead, without the server.
func prepare(ctx context.Context, o options, creds *web.Credentials, stdout io.Writer) error {
	o.load.Issuer = sim.CachedCredentialsIssuer(creds, o.tokenTTL, o.tokens)
	n, err := sim.PrepareLoadCredentials(ctx, o.load)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d credentials ready in %s\n", n, o.tokens)
	return nil
}

// openCredentials opens where the servers read credentials: their Redis
// when they share one, else the data dir's file.
func openCredentials(ctx context.Context, o options) (*web.Credentials, func(), error) {
	if o.redisURL == "" {
		creds, err := web.OpenCredentials(filepath.Join(o.dataDir, "credentials.json"), nil)
		return creds, func() {}, err
	}
	if !loopbackRedis(o.redisURL) {
		return nil, nil, fmt.Errorf("-redis-url: only a Redis on a loopback address may be used")
	}
	rc, err := redisstore.OpenCredentials(ctx, redisstore.Options{URL: o.redisURL})
	if err != nil {
		return nil, nil, err
	}
	creds, err := web.NewCredentials(rc, nil)
	if err != nil {
		rc.Close()
		return nil, nil, err
	}
	return creds, func() { rc.Close() }, nil
}

// loopbackRedis reports whether a Redis URL names this machine only.
func loopbackRedis(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Query().Has("addr") {
		return false
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// adminToken takes the administrator token from the environment, or
// issues a short-lived one for this run and revokes it afterwards.
func adminToken(creds *web.Credentials) (string, func(), error) {
	if tok := os.Getenv(adminTokenEnv); tok != "" {
		return tok, func() {}, nil
	}
	tok, cr, err := creds.Issue(web.IssueRequest{Name: "dispatchload", Role: web.RoleAdmin, TTL: time.Hour})
	if err != nil {
		return "", nil, fmt.Errorf("issue admin token: %w", err)
	}
	return tok, func() { _ = creds.Revoke(cr.ID) }, nil
}

// startProfile profiles the tool itself (is the tool the bottleneck?).
func startProfile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func printReport(w io.Writer, rep *sim.LoadReport, asJSON bool) error {
	if !asJSON {
		rep.Print(w)
		return nil
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
