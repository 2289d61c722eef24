package sim

import (
	"context"
	"fmt"
	"time"

	"github.com/jjj-social-work/dispatch/web"
)

// TokenRequest asks for one credential for a simulated client.
type TokenRequest struct {
	Name     string
	Role     web.Role // web.RoleWorker or web.RoleCoordinator
	WorkerID string
	Regions  []string
}

// Issuer issues credentials for simulated clients. The server's HTTP API
// has no route for it (administrators issue credentials with `dispatchd
// token issue` into the data directory, which the server re-reads), so
// whoever starts the simulator provides one.
type Issuer interface {
	Issue(ctx context.Context, reqs []TokenRequest) ([]string, error)
}

// CredentialsIssuer issues through the credentials file the server reads,
// as `dispatchd token issue` does; the server notices new credentials
// within a second. Issued one by one, each rewrites the whole file, so
// thousands take minutes; a credentials file with IssueMany takes one write.
func CredentialsIssuer(c *web.Credentials, ttl time.Duration) Issuer {
	return credentialsIssuer{c: c, ttl: ttl}
}

type credentialsIssuer struct {
	c   *web.Credentials
	ttl time.Duration
}

// bulkCredentials is a credentials file that can issue many credentials
// in one write; Issue uses it when the server's credentials offer it.
type bulkCredentials interface {
	IssueMany(reqs []web.IssueRequest) ([]string, error)
}

func (ci credentialsIssuer) Issue(ctx context.Context, reqs []TokenRequest) ([]string, error) {
	if bulk, ok := any(ci.c).(bulkCredentials); ok {
		in := make([]web.IssueRequest, len(reqs))
		for i, r := range reqs {
			in[i] = web.IssueRequest{Name: r.Name, Role: r.Role, Regions: r.Regions, WorkerID: r.WorkerID, TTL: ci.ttl}
		}
		toks, err := bulk.IssueMany(in)
		if err != nil {
			return nil, fmt.Errorf("issue credentials: %w", err)
		}
		return toks, nil
	}
	out := make([]string, 0, len(reqs))
	for _, r := range reqs {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("issue credentials: %w", err)
		}
		tok, _, err := ci.c.Issue(web.IssueRequest{Name: r.Name, Role: r.Role, Regions: r.Regions,
			WorkerID: r.WorkerID, TTL: ci.ttl})
		if err != nil {
			return nil, fmt.Errorf("issue credentials: %w", err)
		}
		out = append(out, tok)
	}
	return out, nil
}
