package ui

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec
}

func TestPages(t *testing.T) {
	if !Built() {
		t.Fatal("dist/ is not built: run `cd web/ui && npm ci && npm run build` first")
	}
	h := Handler()
	tests := []struct {
		path, want string
	}{
		{"/", `src="/assets/index-`},
		{"/index.html", `src="/assets/index-`},
		{"/worker", `src="/assets/worker-`},
		{"/worker.html", `src="/assets/worker-`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			rec := get(t, h, "GET", tt.path)
			if rec.Code != http.StatusOK {
				t.Fatalf("status = %d, want 200", rec.Code)
			}
			if got := rec.Header().Get("Content-Type"); got != "text/html; charset=utf-8" {
				t.Errorf("Content-Type = %q, want text/html; charset=utf-8", got)
			}
			if !strings.Contains(rec.Body.String(), tt.want) {
				t.Errorf("body lacks %q", tt.want)
			}
			csp := rec.Header().Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'self'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("CSP = %q, want it to contain %q", csp, want)
				}
			}
			if got := rec.Header().Get("Cache-Control"); got != "no-cache" {
				t.Errorf("Cache-Control = %q, want no-cache", got)
			}
		})
	}
}

func TestAssets(t *testing.T) {
	if !Built() {
		t.Fatal("dist/ is not built")
	}
	names, err := fs.Glob(files, "dist/assets/*.js")
	if err != nil || len(names) == 0 {
		t.Fatalf("no built scripts: %v", err)
	}
	h := Handler()
	path := strings.TrimPrefix(names[0], "dist")
	rec := get(t, h, "GET", path)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: status %d, want 200", path, rec.Code)
	}
	if got := rec.Header().Get("Cache-Control"); !strings.Contains(got, "immutable") {
		t.Errorf("Cache-Control = %q, want immutable for hashed assets", got)
	}
	if got := rec.Header().Get("Content-Type"); !strings.Contains(got, "javascript") {
		t.Errorf("Content-Type = %q, want javascript", got)
	}
}

func TestNotServed(t *testing.T) {
	h := Handler()
	tests := []struct {
		method, path string
		want         int
	}{
		{"GET", "/nope.js", http.StatusNotFound},
		{"GET", "/assets/", http.StatusNotFound},
		{"GET", "/../embed.go", http.StatusNotFound},
		{"GET", "/embed.go", http.StatusNotFound},
		{"POST", "/", http.StatusMethodNotAllowed},
		{"DELETE", "/worker", http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			if got := get(t, h, tt.method, tt.path).Code; got != tt.want {
				t.Errorf("status = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestTileOption(t *testing.T) {
	h := NewHandler(Options{TileURL: "https://{s}.tiles.example.org/{z}/{x}/{y}.png", TileAttribution: `© "Tiles" <b>`})
	rec := get(t, h, "GET", "/")
	body := rec.Body.String()
	if !strings.Contains(body, `<meta name="dispatch-tile-url" content="https://{s}.tiles.example.org/{z}/{x}/{y}.png">`) {
		t.Errorf("page lacks the tile URL meta tag")
	}
	if !strings.Contains(body, `content="© &#34;Tiles&#34; &lt;b&gt;"`) {
		t.Errorf("attribution not escaped into the page")
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' data: blob: https://*.tiles.example.org") {
		t.Errorf("CSP = %q, want the tile origin in img-src", csp)
	}
}

func TestTileOrigin(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"https://tiles.example.org/{z}/{x}/{y}.png", "https://tiles.example.org"},
		{"http://127.0.0.1:8081/t/{z}/{x}/{y}.png", "http://127.0.0.1:8081"},
		{"https://{s}.tile.example.net/{z}/{x}/{y}.png", "https://*.tile.example.net"},
		{"javascript:alert(1)", ""},
		{"/relative/{z}/{x}/{y}.png", ""},
		{"https://", ""},
	}
	for _, tt := range tests {
		if got := tileOrigin(tt.in); got != tt.want {
			t.Errorf("tileOrigin(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
