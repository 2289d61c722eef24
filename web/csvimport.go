package web

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/jjj-social-work/dispatch/geo"
)

// Roster CSV (PRODUCT §2, §8): a header line naming the columns, in any
// order, then one worker per line. Lists (skills, languages) are separated
// by ";". The import is all-or-nothing: the first bad line is reported with
// its number and column and nothing is written.
//
//	id,name,phone,home_region,agency,cert,skills,languages,supervisor,lat,lng
//	W001,李娜,13800000000,HE,保定社工站,intermediate,crisis_intervention;elderly_care,zh;zh-hebei,true,38.88,115.50
const maxRosterRows = 100_000

var (
	csvColumns  = []string{"id", "name", "phone", "home_region", "agency", "cert", "skills", "languages", "supervisor", "lat", "lng"}
	csvRequired = []string{"id", "name", "home_region"}
)

func csvErr(line int, field, format string, args ...any) *APIError {
	return &APIError{Status: http.StatusBadRequest, Code: CodeBadCSV, Field: field, Line: line,
		Message: fmt.Sprintf(format, args...)}
}

// parseRosterCSV reads a roster. rowLines[i] is the line of workers[i],
// for mapping the engine's item errors back to lines.
func parseRosterCSV(data []byte) (workers []dispatch.WorkerInput, rowLines []int, err error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // spreadsheet exports start with a BOM
	if !utf8.Valid(data) {
		return nil, nil, csvErr(0, "", "not UTF-8 text")
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.ReuseRecord = true
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil, csvErr(1, "", "empty file: want a header line")
	}
	if err != nil {
		return nil, nil, csvParseErr(err)
	}
	col, err := csvHeader(header)
	if err != nil {
		return nil, nil, err
	}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, csvParseErr(err)
		}
		line, _ := r.FieldPos(0)
		if len(workers) >= maxRosterRows {
			return nil, nil, csvErr(line, "", "more than %d workers in one import", maxRosterRows)
		}
		w, aerr := csvWorker(rec, col, line)
		if aerr != nil {
			return nil, nil, aerr
		}
		workers = append(workers, w)
		rowLines = append(rowLines, line)
	}
	if len(workers) == 0 {
		return nil, nil, csvErr(2, "", "no workers after the header")
	}
	return workers, rowLines, nil
}

func csvParseErr(err error) *APIError {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return csvErr(pe.Line, "", "%v", pe.Err)
	}
	return csvErr(0, "", "%v", err)
}

// csvHeader maps column names to their index.
func csvHeader(header []string) (map[string]int, error) {
	col := map[string]int{}
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(h))
		if !slices.Contains(csvColumns, name) {
			return nil, csvErr(1, h, "unknown column; want some of %s", strings.Join(csvColumns, ","))
		}
		if _, dup := col[name]; dup {
			return nil, csvErr(1, h, "column listed twice")
		}
		col[name] = i
	}
	for _, req := range csvRequired {
		if _, ok := col[req]; !ok {
			return nil, csvErr(1, req, "required column missing")
		}
	}
	return col, nil
}

func csvWorker(rec []string, col map[string]int, line int) (dispatch.WorkerInput, *APIError) {
	get := func(name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	w := dispatch.WorkerInput{
		ID: get("id"), Name: get("name"), Phone: get("phone"), HomeRegion: strings.ToUpper(get("home_region")),
		Agency: get("agency"), Cert: get("cert"),
		Skills: splitList(get("skills")), Languages: splitList(get("languages")),
	}
	switch strings.ToLower(get("supervisor")) {
	case "", "false", "0", "no", "n":
	case "true", "1", "yes", "y":
		w.Supervisor = true
	default:
		return w, csvErr(line, "supervisor", "want true or false")
	}
	lat, lng := get("lat"), get("lng")
	if lat != "" || lng != "" {
		p, aerr := csvPoint(lat, lng, line)
		if aerr != nil {
			return w, aerr
		}
		w.Position = &p
	}
	return w, nil
}

func csvPoint(lat, lng string, line int) (geo.Point, *APIError) {
	var p geo.Point
	var err error
	if p.Lat, err = strconv.ParseFloat(lat, 64); err != nil {
		return p, csvErr(line, "lat", "want a number (lat and lng go together)")
	}
	if p.Lng, err = strconv.ParseFloat(lng, 64); err != nil {
		return p, csvErr(line, "lng", "want a number (lat and lng go together)")
	}
	var pe *geo.PointError
	if err := p.Validate(); errors.As(err, &pe) {
		return p, csvErr(line, pe.Field, "%v", err)
	} else if err != nil {
		return p, csvErr(line, "lat", "%v", err)
	}
	return p, nil
}

// splitList splits "a; b;c" into [a b c], dropping empty items.
func splitList(s string) []string {
	if s == "" {
		return []string{}
	}
	var out []string
	for _, x := range strings.Split(s, ";") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}
