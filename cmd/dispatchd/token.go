package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jjj-social-work/dispatch/web"
)

// runToken is `dispatchd token issue|revoke|list`: the administrator's
// way to manage credentials, in the data dir or, when a Redis URL is
// configured, in Redis for every node. A running server notices the change
// within a second.
func runToken(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: dispatchd token issue|revoke|list [flags]")
	}
	switch args[0] {
	case "issue":
		return tokenIssue(args[1:], stdout)
	case "revoke":
		return tokenRevoke(args[1:], stdout)
	case "list":
		return tokenList(args[1:], stdout)
	}
	return fmt.Errorf("token: unknown command %q (want issue, revoke or list)", args[0])
}

// connectTimeout bounds reaching Redis for a token command.
const connectTimeout = 10 * time.Second

// commonFlags are the flags every token command takes to find the
// credentials.
type commonFlags struct {
	config, dataDir *string
}

func addCommon(fs *flag.FlagSet) commonFlags {
	return commonFlags{
		config:  fs.String("config", "configs/dispatchd.json", "config file"),
		dataDir: fs.String("data-dir", "", "data directory (overrides the config file)"),
	}
}

// open returns the credentials and closeFn, which the caller must call.
func (c commonFlags) open(fs *flag.FlagSet) (creds *web.Credentials, cfg config, closeFn func(), err error) {
	cfg, err = loadConfig(*c.config, isSet(fs, "config"))
	if err != nil {
		return nil, cfg, nil, err
	}
	if *c.dataDir != "" {
		cfg.DataDir = *c.dataDir
	}
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	creds, closeFn, err = openTokenCredentials(ctx, cfg)
	return creds, cfg, closeFn, err
}

func tokenIssue(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("token issue", flag.ContinueOnError)
	common := addCommon(fs)
	role := fs.String("role", "", "administrator, coordinator or worker")
	regions := fs.String("regions", "", "coordinator scope: comma-separated BJ,TJ,HE (empty: all)")
	worker := fs.String("worker", "", "worker id a worker credential is bound to")
	name := fs.String("name", "", "who or what holds the token, for the list")
	ttl := fs.Duration("ttl", 0, "lifetime (default: token_ttl of the config)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	creds, cfg, closeFn, err := common.open(fs)
	if err != nil {
		return err
	}
	defer closeFn()
	req := web.IssueRequest{Name: *name, Role: web.Role(*role), WorkerID: *worker, TTL: *ttl}
	if req.TTL == 0 {
		req.TTL = time.Duration(cfg.TokenTTL)
	}
	if *regions != "" {
		for _, r := range strings.Split(*regions, ",") {
			req.Regions = append(req.Regions, strings.ToUpper(strings.TrimSpace(r)))
		}
	}
	tok, cr, err := creds.Issue(req)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "id:      %s\nrole:    %s\nexpires: %s\n", cr.ID, cr.Role, cr.Expires.Format(time.RFC3339))
	fmt.Fprintf(stdout, "token (shown only now; store it safely):\n%s\n", tok)
	return nil
}

func tokenRevoke(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("token revoke", flag.ContinueOnError)
	common := addCommon(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: dispatchd token revoke [flags] ID")
	}
	creds, _, closeFn, err := common.open(fs)
	if err != nil {
		return err
	}
	defer closeFn()
	if err := creds.Revoke(fs.Arg(0)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "revoked %s\n", fs.Arg(0))
	return nil
}

func tokenList(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("token list", flag.ContinueOnError)
	common := addCommon(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	creds, _, closeFn, err := common.open(fs)
	if err != nil {
		return err
	}
	defer closeFn()
	list, err := creds.List()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tROLE\tSCOPE\tNAME\tEXPIRES\tSTATE")
	now := time.Now()
	for _, c := range list {
		scope := strings.Join(c.Regions, ",")
		if c.Role == web.RoleWorker {
			scope = "worker " + c.WorkerID
		} else if scope == "" {
			scope = "all"
		}
		state := "active"
		switch {
		case !c.RevokedAt.IsZero():
			state = "revoked"
		case !now.Before(c.Expires):
			state = "expired"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Role, scope, c.Name, c.Expires.Format(time.RFC3339), state)
	}
	return tw.Flush()
}

// isSet reports whether the flag name was given on the command line.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}
