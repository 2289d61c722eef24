package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/jjj-social-work/dispatch/dispatch"
)

// decodeOptionalJSON is decodeJSONBody for bodies that may be left out
// entirely (e.g. a cancel without a reason).
func decodeOptionalJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	if r.ContentLength == 0 && len(r.TransferEncoding) == 0 {
		return nil
	}
	return decodeJSONBody(w, r, dst)
}

// pathID returns the {id} of the route; an id that cannot exist is a 404.
func pathID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if !validToken(id, maxIDLen) {
		return "", errNotFound
	}
	return id, nil
}

// query wraps the URL query with strict, field-naming parsers. Unknown
// parameters are refused so that a typo never silently changes a result.
type query struct {
	v url.Values
}

func parseQuery(r *http.Request, allowed ...string) (query, error) {
	v := r.URL.Query()
	for k := range v {
		if !slices.Contains(allowed, k) {
			return query{}, errBadRequest(CodeUnknownField, k, "unknown query parameter; want some of %s", strings.Join(allowed, ", "))
		}
		if len(v[k]) > 1 {
			return query{}, errField(k, "given more than once")
		}
	}
	return query{v: v}, nil
}

func (q query) str(name string) string { return q.v.Get(name) }

func (q query) has(name string) bool { return q.v.Has(name) }

func (q query) float(name string, required bool) (*float64, error) {
	if !q.v.Has(name) {
		if required {
			return nil, errField(name, "required")
		}
		return nil, nil
	}
	f, err := strconv.ParseFloat(q.v.Get(name), 64)
	if err != nil {
		return nil, errField(name, "want a number")
	}
	return &f, nil
}

func (q query) integer(name string, def, lo, hi int) (int, error) {
	if !q.v.Has(name) {
		return def, nil
	}
	n, err := strconv.Atoi(q.v.Get(name))
	if err != nil || n < lo || n > hi {
		return 0, errField(name, "want an integer from %d to %d", lo, hi)
	}
	return n, nil
}

func (q query) boolean(name string, def bool) (bool, error) {
	if !q.v.Has(name) {
		return def, nil
	}
	b, err := strconv.ParseBool(q.v.Get(name))
	if err != nil {
		return false, errField(name, "want true or false")
	}
	return b, nil
}

// region reads an optional region narrowing and checks it against p's
// scope: outside the scope is 403, not an empty answer.
func (q query) region(p *Principal, name string) (string, error) {
	if !q.v.Has(name) {
		return "", nil
	}
	reg := strings.ToUpper(q.v.Get(name))
	if !ValidRegion(reg) {
		return "", errField(name, "want BJ, TJ or HE")
	}
	if !p.SeesRegion(reg) {
		return "", errForbiddenField(name, "region "+reg+" is outside this credential's scope")
	}
	return reg, nil
}

// pointBody is a position in a request; pointers so a missing coordinate
// is "required", not a silent 0.
type pointBody struct {
	Lat *float64 `json:"lat"`
	Lng *float64 `json:"lng"`
}

func (p *pointBody) check(field string) error {
	if p == nil {
		return errField(field, "required")
	}
	return checkLatLng(field+".lat", field+".lng", p.Lat, p.Lng)
}

// inScope reports whether an item of region belongs in p's answer, given
// an optional narrowing to one region.
func inScope(p *Principal, region, narrow string) bool {
	if narrow != "" && region != narrow {
		return false
	}
	return p.SeesRegion(region)
}

func incidentsInScope(p *Principal, incs []dispatch.Incident, narrow string) []dispatch.Incident {
	out := make([]dispatch.Incident, 0, len(incs))
	for _, inc := range incs {
		if inScope(p, inc.Region, narrow) {
			out = append(out, inc)
		}
	}
	return out
}
