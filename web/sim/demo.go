package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"github.com/jjj-social-work/dispatch/web"
)

// DemoOptions configure RunDemo. Give either AdminToken and Issuer, or
// Credentials (the server's own credentials file), from which the demo
// issues what it needs.
type DemoOptions struct {
	// BaseURL is where the server listens, e.g. http://127.0.0.1:8080.
	BaseURL string
	// Scenario to play; if nil, ScenarioFile is loaded.
	Scenario     *Scenario
	ScenarioFile string
	// AdminToken loads the roster; Issuer issues the simulated clients'
	// credentials.
	AdminToken string
	Issuer     Issuer
	// Credentials, when set, supplies both: a short-lived administrator
	// credential (revoked once the roster is loaded) and the clients'.
	Credentials *web.Credentials
	// StateDir, when set with Credentials, keeps the demo's credentials
	// (demo-credentials.json, mode 0600) so a restart reuses them instead
	// of issuing hundreds more.
	StateDir string
	// TokenTTL is the lifetime of issued credentials; default 30 days.
	TokenTTL time.Duration
	// Speed overrides the scenario's speed when positive.
	Speed      float64
	Logger     *slog.Logger
	HTTPClient *http.Client
}

// RunDemo plays a scenario against a running server until ctx ends: it
// loads the synthetic team, connects every simulated worker and desk and
// logs the incidents on schedule. dispatchd calls it once it listens.
func RunDemo(ctx context.Context, o DemoOptions) error {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.TokenTTL <= 0 {
		o.TokenTTL = 30 * 24 * time.Hour
	}
	sc, err := o.scenario()
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	admin, revoke, err := o.admin()
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	s, err := Start(ctx, Options{BaseURL: o.BaseURL, AdminToken: admin, Scenario: sc, Issuer: o.issuer(),
		Speed: o.Speed, Logger: o.Logger, HTTPClient: o.HTTPClient})
	revoke()
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("demo: %w", err)
	}
	stop := progress(ctx, s, o.Logger)
	err = s.Wait()
	stop()
	st := s.Stats()
	o.Logger.Info("demo stopped", "incidents", st.IncidentsLogged, "staffed", st.IncidentsStaffed,
		"mutual_aid", st.MutualAid, "lost", st.Lost, "duplicated", st.Duplicated)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	return nil
}

// progress logs the demo's totals every minute until ctx ends or the
// returned function is called.
func progress(ctx context.Context, s *Sim, log *slog.Logger) func() {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				st := s.Stats()
				log.Info("demo progress", "incidents", st.IncidentsLogged, "staffed", st.IncidentsStaffed,
					"closed", st.IncidentsClosed, "offers", st.Offers, "accepted", st.Accepted,
					"mutual_aid", st.MutualAid, "unfilled", st.Unfilled)
			}
		}
	}()
	return func() { cancel(); <-done }
}

func (o DemoOptions) scenario() (*Scenario, error) {
	if o.Scenario != nil {
		return o.Scenario, nil
	}
	if o.ScenarioFile == "" {
		return nil, errors.New("no scenario given")
	}
	return LoadScenarioFile(o.ScenarioFile)
}

// admin returns the administrator token and a function that retires it.
func (o DemoOptions) admin() (string, func(), error) {
	if o.AdminToken != "" {
		return o.AdminToken, func() {}, nil
	}
	if o.Credentials == nil {
		return "", nil, errors.New("need AdminToken or Credentials")
	}
	tok, cr, err := o.Credentials.Issue(web.IssueRequest{Name: "demo roster loader", Role: web.RoleAdmin,
		TTL: 10 * time.Minute})
	if err != nil {
		return "", nil, err
	}
	return tok, func() {
		if err := o.Credentials.Revoke(cr.ID); err != nil {
			o.Logger.Warn("demo: revoke roster credential", "err", err)
		}
	}, nil
}

func (o DemoOptions) issuer() Issuer {
	if o.Issuer != nil {
		return o.Issuer
	}
	if o.Credentials == nil {
		return nil // Start reports it
	}
	if o.StateDir == "" {
		return CredentialsIssuer(o.Credentials, o.TokenTTL)
	}
	return CachedCredentialsIssuer(o.Credentials, o.TokenTTL, filepath.Join(o.StateDir, "demo-credentials.json"))
}
