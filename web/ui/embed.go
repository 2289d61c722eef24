// Package ui serves the browser pages (the coordinator dashboard and the
// field worker's page) that the npm project in this directory builds into
// dist/. The build output is embedded, so the server binary carries its own
// pages and nothing is fetched from elsewhere at run time.
package ui

import (
	"bytes"
	"embed"
	"html"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
)

// The glob matches dist/ when the npm build has run and distfallback/
// always, so the package compiles from a fresh clone; the fallback page says
// how to build the real one.
//
//go:embed dist*
var files embed.FS

// Options configure the pages. The zero value serves the offline map only.
type Options struct {
	// TileURL is an optional raster tile layer for the dashboard map, in
	// the {z}/{x}/{y} template form, e.g. "https://tiles.example/{z}/{x}/{y}.png".
	// Empty means vector outlines only (works offline).
	TileURL string
	// TileAttribution is shown on the map when TileURL is set.
	TileAttribution string
}

// Built reports whether the embedded pages are the real build rather than
// the "not built" fallback.
func Built() bool {
	_, err := fs.Stat(files, "dist/index.html")
	return err == nil
}

// Handler serves the pages with the default options: "/" is the dashboard,
// "/worker" the field worker's page, "/assets/..." the built scripts,
// styles and images.
func Handler() http.Handler { return NewHandler(Options{}) }

// NewHandler is Handler with options.
func NewHandler(o Options) http.Handler {
	root := "distfallback"
	if Built() {
		root = "dist"
	}
	sub, err := fs.Sub(files, root)
	if err != nil {
		panic("ui: embedded files: " + err.Error()) // cannot happen: root is embedded
	}
	h := &handler{files: sub, csp: contentPolicy(o.TileURL), meta: pageMeta(o)}
	return h
}

type handler struct {
	files fs.FS
	csp   string
	meta  []byte // <meta> tags put into every page
}

// pages maps clean URLs to the built HTML files.
var pages = map[string]string{
	"/":            "index.html",
	"/index.html":  "index.html",
	"/worker":      "worker.html",
	"/worker/":     "worker.html",
	"/worker.html": "worker.html",
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	hdr := w.Header()
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	if name, ok := pages[r.URL.Path]; ok {
		h.servePage(w, r, name)
		return
	}
	name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
	st, err := fs.Stat(h.files, name)
	if err != nil || st.IsDir() || strings.HasSuffix(name, ".html") {
		http.NotFound(w, r)
		return
	}
	if strings.HasPrefix(name, "assets/") {
		// Vite puts a content hash in every asset name, so a name never
		// changes meaning and browsers may keep it for good.
		hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hdr.Set("Cache-Control", "no-cache")
	}
	http.ServeFileFS(w, r, h.files, name)
}

func (h *handler) servePage(w http.ResponseWriter, r *http.Request, name string) {
	b, err := fs.ReadFile(h.files, name)
	if err != nil {
		b, err = fs.ReadFile(h.files, "index.html") // fallback build has one page
	}
	if err != nil {
		http.NotFound(w, r)
		return
	}
	if len(h.meta) > 0 {
		b = bytes.Replace(b, []byte("</head>"), append(h.meta, []byte("</head>")...), 1)
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("Content-Security-Policy", h.csp)
	hdr.Set("X-Frame-Options", "DENY")
	// The worker page shares the phone's position; nothing else may ask.
	hdr.Set("Permissions-Policy", "geolocation=(self), camera=(), microphone=()")
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
}

// contentPolicy allows the page's own scripts, styles, API and websocket
// and, when configured, images from the tile server's origin.
func contentPolicy(tileURL string) string {
	img := "'self' data: blob:"
	if o := tileOrigin(tileURL); o != "" {
		img += " " + o
	}
	return strings.Join([]string{
		"default-src 'self'",
		"script-src 'self'",
		// Leaflet positions map panes with inline style attributes.
		"style-src 'self' 'unsafe-inline'",
		"img-src " + img,
		"connect-src 'self'",
		"frame-ancestors 'none'",
		"base-uri 'self'",
		"form-action 'self'",
	}, "; ")
}

// tileOrigin returns scheme://host of a tile URL template, or "" when it is
// not an absolute http(s) URL. Subdomain placeholders such as {s} become a
// wildcard.
func tileOrigin(tileURL string) string {
	if tileURL == "" {
		return ""
	}
	u, err := url.Parse(strings.ReplaceAll(tileURL, "{s}", "s"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ""
	}
	host := u.Host
	if strings.Contains(tileURL, "{s}.") {
		host = "*." + strings.SplitN(host, ".", 2)[1]
	}
	return u.Scheme + "://" + host
}

func pageMeta(o Options) []byte {
	if o.TileURL == "" || tileOrigin(o.TileURL) == "" {
		return nil
	}
	var b bytes.Buffer
	b.WriteString(`<meta name="dispatch-tile-url" content="` + html.EscapeString(o.TileURL) + `">`)
	if o.TileAttribution != "" {
		b.WriteString(`<meta name="dispatch-tile-attribution" content="` + html.EscapeString(o.TileAttribution) + `">`)
	}
	return b.Bytes()
}
