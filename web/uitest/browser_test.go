package uitest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumPath finds the browser. The tests fail without it: a UI that no
// test has driven is not known to work.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium found: install it (Debian: apt-get install -y chromium; scripts/deps.sh does)")
	return ""
}

// newBrowser starts one headless Chromium for the test with a fresh
// profile; it is stopped (by its own process handle) when the test ends.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("lang", "zh-CN"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 768),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	// The first Run starts the browser; its context must not time out.
	if err := chromedp.Do(bctx); err != nil {
		cancelBrowser()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	return bctx
}

// tab is one page in its own browser context (separate storage), with the
// page's console errors and uncaught exceptions collected for the test.
type tab struct {
	t    *testing.T
	ctx  context.Context
	name string
	errs chan string
}

func newPage(t *testing.T, browserCtx context.Context, name string, width, height int64, mobile bool) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	p := &tab{t: t, ctx: ctx, name: name, errs: make(chan string, 100)}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, height, func(d *emulation.SetDeviceMetricsOverrideParams, s *emulation.SetTouchEmulationEnabledParams) {
		d.Mobile = mobile
		if mobile {
			d.DeviceScaleFactor = 2
			s.Enabled = true
		}
	})); err != nil {
		t.Fatalf("%s: viewport: %v", name, err)
	}
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			select {
			case p.errs <- fmt.Sprintf("exception: %s %s", ev.ExceptionDetails.Text, describeException(ev.ExceptionDetails)):
			default:
			}
		}
	}()
	return p
}

func describeException(d *runtime.ExceptionDetails) string {
	if d == nil || d.Exception == nil {
		return ""
	}
	return d.Exception.Description
}

func (p *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("%s: %v%s", p.name, err, p.pageErrors())
	}
}

func (p *tab) navigate(url string) {
	p.t.Helper()
	p.do(chromedp.Navigate(url))
}

// eval runs a JavaScript expression and decodes its JSON value into T.
func eval[T any](p *tab, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 15*time.Second)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](expr))
	if err != nil {
		p.t.Fatalf("%s: eval %q: %v%s", p.name, expr, err, p.pageErrors())
	}
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		p.t.Fatalf("%s: eval %q: decode %s: %v", p.name, expr, raw, err)
	}
	return v
}

// waitFor polls a JavaScript condition until it is true.
func (p *tab) waitFor(what, cond string, timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf("Boolean(%s)", cond), chromedp.EvalIgnoreExceptions))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			p.screenshotOnFailure(what)
			p.t.Fatalf("%s: waiting for %s: got false after %v, want true (%s)%s", p.name, what, timeout, cond, p.pageErrors())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *tab) text(sel string) string {
	p.t.Helper()
	return eval[string](p, fmt.Sprintf("(document.querySelector(%q)?.textContent || '').trim()", sel))
}

func (p *tab) click(sel string) {
	p.t.Helper()
	p.do(chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

func (p *tab) setValue(sel, value string) {
	p.t.Helper()
	js := fmt.Sprintf(`(() => { const el = document.querySelector(%q); el.value = %q;
		el.dispatchEvent(new Event('input', {bubbles: true})); el.dispatchEvent(new Event('change', {bubbles: true})); return true })()`, sel, value)
	if !eval[bool](p, js) {
		p.t.Fatalf("%s: set %s", p.name, sel)
	}
}

// mouseClick clicks at page coordinates, as a person would on the map.
func (p *tab) mouseClick(x, y float64) {
	p.t.Helper()
	p.do(chromedp.MouseClickXY(x, y))
}

// grantGeolocation lets origin read the position and fixes it at lat, lng.
func (p *tab) setGeolocation(origin string, lat, lng float64) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	bc := chromedp.FromContext(p.ctx).BrowserContextID
	if _, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
		Permission: &browser.PermissionDescriptor{Name: "geolocation"}, Setting: browser.PermissionSettingGranted,
		Origin: origin, BrowserContextID: bc,
	}); err != nil {
		p.t.Fatalf("%s: grant geolocation: %v", p.name, err)
	}
	acc := 12.0
	if _, err := chromedp.Call(ctx, emulation.SetGeolocationOverride, emulation.SetGeolocationOverrideParams{
		Latitude: &lat, Longitude: &lng, Accuracy: &acc,
	}); err != nil {
		p.t.Fatalf("%s: geolocation override: %v", p.name, err)
	}
}

func (p *tab) screenshot(path string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	buf, err := chromedp.Call(ctx, page.CaptureScreenshot, page.CaptureScreenshotParams{Format: page.CaptureScreenshotFormatPng})
	if err != nil {
		p.t.Fatalf("%s: screenshot: %v", p.name, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Data, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// screenshotOnFailure keeps what the page showed when a wait failed, in
// the test's temp dir (or UITEST_ARTIFACTS when set), for the log.
func (p *tab) screenshotOnFailure(what string) {
	dir := os.Getenv("UITEST_ARTIFACTS")
	if dir == "" {
		dir = os.TempDir()
	}
	name := strings.NewReplacer(" ", "-", "/", "-").Replace(p.t.Name() + "-" + p.name + "-" + what)
	path := filepath.Join(dir, name+".png")
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	if buf, err := chromedp.Call(ctx, page.CaptureScreenshot, page.CaptureScreenshotParams{Format: page.CaptureScreenshotFormatPng}); err == nil {
		if os.WriteFile(path, buf.Data, 0o644) == nil {
			p.t.Logf("%s: screenshot of the failure: %s", p.name, path)
		}
	}
}

// pageErrors drains the exceptions the page threw, for failure messages.
func (p *tab) pageErrors() string {
	var b strings.Builder
	for {
		select {
		case e := <-p.errs:
			b.WriteString("\n  page " + e)
		default:
			return b.String()
		}
	}
}

// noPageErrors fails the test if the page threw anything.
func (p *tab) noPageErrors() {
	p.t.Helper()
	if e := p.pageErrors(); e != "" {
		p.t.Errorf("%s: uncaught errors:%s", p.name, e)
	}
}
