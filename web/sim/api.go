package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/jjj-social-work/dispatch/geo"
)

// API routes the simulator uses, all of them documented in docs/api.md.
const (
	routeTicket    = "/api/v1/ws-ticket"
	routeStream    = "/api/v1/stream"
	routeWorkers   = "/api/v1/workers"
	routeIncidents = "/api/v1/incidents"
	routeReady     = "/readyz"
	routeMetrics   = "/metrics"
	routeMe        = "/api/v1/me"
)

// maxResponse bounds what the client reads of one answer.
const maxResponse = 32 << 20

// HTTPError is a non-2xx answer of the server, in its JSON error shape.
type HTTPError struct {
	Status  int
	Code    string `json:"code"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *HTTPError) Error() string {
	s := fmt.Sprintf("http %d %s", e.Status, e.Code)
	if e.Field != "" {
		s += " (" + e.Field + ")"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// apiClient calls the HTTP API with one credential.
type apiClient struct {
	base  string // scheme://host:port, no trailing slash
	token string
	hc    *http.Client
}

func newAPIClient(base, token string, hc *http.Client) *apiClient {
	return &apiClient{base: strings.TrimRight(base, "/"), token: token, hc: hc}
}

// do sends a JSON request and decodes a JSON answer into out (if non-nil).
func (c *apiClient) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %w", method, path, decodeHTTPError(resp.StatusCode, b))
	}
	if out == nil || len(b) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

func decodeHTTPError(status int, b []byte) *HTTPError {
	var body struct {
		Error *HTTPError `json:"error"`
	}
	if json.Unmarshal(b, &body) != nil || body.Error == nil {
		return &HTTPError{Status: status, Code: "http", Message: http.StatusText(status)}
	}
	body.Error.Status = status
	return body.Error
}

// upsertBatch keeps each roster request well under the server's 1 MiB
// JSON body limit (a roster line is about 300 bytes).
const upsertBatch = 2000

// upsertWorkers loads the roster in batches (administrator).
func (c *apiClient) upsertWorkers(ctx context.Context, ws []dispatch.WorkerInput) error {
	for len(ws) > 0 {
		n := min(len(ws), upsertBatch)
		if err := c.do(ctx, http.MethodPost, routeWorkers, map[string]any{"workers": ws[:n]}, nil); err != nil {
			return fmt.Errorf("upsert workers: %w", err)
		}
		ws = ws[n:]
	}
	return nil
}

// incidentRequest is the intake body: created_by comes from the
// credential, so it is not sent.
type incidentRequest struct {
	Type            string               `json:"type"`
	Severity        dispatch.Severity    `json:"severity"`
	Position        geo.Point            `json:"position"`
	Region          string               `json:"region,omitempty"`
	Needs           []dispatch.NeedInput `json:"needs"`
	NeedsSupervisor bool                 `json:"needs_supervisor,omitempty"`
	Notes           string               `json:"notes,omitempty"`
}

func (c *apiClient) createIncident(ctx context.Context, in dispatch.IncidentInput) (dispatch.Incident, error) {
	req := incidentRequest{Type: in.Type, Severity: in.Severity, Position: in.Position, Region: in.Region,
		Needs: in.Needs, NeedsSupervisor: in.NeedsSupervisor, Notes: in.Notes}
	var inc dispatch.Incident
	if err := c.do(ctx, http.MethodPost, routeIncidents, req, &inc); err != nil {
		return inc, fmt.Errorf("create incident: %w", err)
	}
	return inc, nil
}

func (c *apiClient) closeIncident(ctx context.Context, id, reason string) error {
	path := routeIncidents + "/" + url.PathEscape(id) + "/close"
	if err := c.do(ctx, http.MethodPost, path, map[string]string{"reason": reason}, nil); err != nil {
		return fmt.Errorf("close incident %s: %w", id, err)
	}
	return nil
}

// workerView is a worker's own picture, as the phone page loads it.
type workerView struct {
	LastSeq     uint64                `json:"last_seq"`
	Assignments []dispatch.Assignment `json:"assignments"`
	Incidents   []dispatch.Incident   `json:"incidents"`
}

func (c *apiClient) workerView(ctx context.Context, workerID string) (workerView, error) {
	var v workerView
	err := c.do(ctx, http.MethodGet, routeWorkers+"/"+url.PathEscape(workerID)+"/view", nil, &v)
	if err != nil {
		return v, fmt.Errorf("worker view: %w", err)
	}
	return v, nil
}

// ticket trades the bearer token for a single-use stream ticket, as a
// browser must.
func (c *apiClient) ticket(ctx context.Context) (string, error) {
	var t struct {
		Ticket string `json:"ticket"`
	}
	if err := c.do(ctx, http.MethodPost, routeTicket, nil, &t); err != nil {
		return "", fmt.Errorf("ticket: %w", err)
	}
	return t.Ticket, nil
}

// readySeq asks /readyz for the stream hub's head sequence.
func (c *apiClient) readySeq(ctx context.Context) (uint64, error) {
	var r struct {
		Seq uint64 `json:"seq"`
	}
	if err := c.do(ctx, http.MethodGet, routeReady, nil, &r); err != nil {
		return 0, fmt.Errorf("ready: %w", err)
	}
	return r.Seq, nil
}

// waitReady polls /readyz until the server answers ready or ctx ends.
func (c *apiClient) waitReady(ctx context.Context) error {
	for {
		_, err := c.readySeq(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for server: %w (last: %w)", ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

var errNoMetric = errors.New("metric not found")
