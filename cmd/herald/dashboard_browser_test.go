package main

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

	"github.com/chromedp/chromedp"
)

// The dashboard's browser tests drive Debian's chromium headless through
// the DevTools protocol (chromedp). Without chromium they skip, except
// under CI=true, where a missing browser is a failure.

// pageTimeout bounds one wait for the page to reach a state.
const pageTimeout = 20 * time.Second

// browser starts a headless chromium for t and returns its context. When
// t fails, a screenshot of the page and its counters are saved and logged.
func browser(t *testing.T) context.Context {
	t.Helper()
	if testing.Short() {
		t.Skip("drives a browser")
	}
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed; .ci/run installs it (apt-get install chromium)")
		}
		t.Skip("chromium is not installed: the dashboard's browser tests are skipped")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("starting chromium: %v", err)
	}
	t.Cleanup(func() { cancel(); cancelAlloc() })
	t.Cleanup(func() {
		if t.Failed() {
			saveArtifacts(t, ctx)
		}
	})
	return ctx
}

// artifactDir is where failed tests leave their screenshots.
func artifactDir() string {
	if d := os.Getenv("HERALD_TEST_ARTIFACTS"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "herald-dashboard-artifacts")
}

// saveArtifacts saves a screenshot of the page and the page's counters.
func saveArtifacts(t *testing.T, ctx context.Context) {
	dir := artifactDir()
	_ = os.MkdirAll(dir, 0o755)
	name := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_"))
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	png, _ := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	stats, _ := chromedp.Run(sctx, chromedp.Evaluate[string](`JSON.stringify(window.heraldStats || null)`))
	html, _ := chromedp.Run(sctx, chromedp.Evaluate[string](`document.getElementById("main").innerText`))
	if len(png) > 0 && os.WriteFile(name+".png", png, 0o644) == nil {
		t.Logf("screenshot of the page: %s.png", name)
	}
	t.Logf("page counters: %s\npage text:\n%s", stats, html)
}

// saveScreenshot writes the page as it is to path.
func saveScreenshot(t *testing.T, ctx context.Context, path string) {
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// signIn opens the dashboard at url and signs in with token.
func signIn(t *testing.T, ctx context.Context, url, token string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, pageTimeout)
	defer cancel()
	if err := chromedp.Do(sctx,
		chromedp.Navigate(url+"/"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), token),
		chromedp.Click(chromedp.CSS("#login-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("nav")),
	); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	waitPage(t, ctx, `document.getElementById("banner").dataset.state === "connected"`, "the banner says connected")
}

// goTo sets the page's address fragment (#view…).
func goTo(t *testing.T, ctx context.Context, hash string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`location.hash = %q`, hash))); err != nil {
		t.Fatal(err)
	}
}

// waitPage waits until the JavaScript expression cond is true in the page.
func waitPage(t *testing.T, ctx context.Context, cond, what string) {
	t.Helper()
	deadline := time.Now().Add(pageTimeout)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!(`+cond+`)`))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page did not reach %q in %s (last error %v)", what, pageTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pageValue evaluates expr in the page into out.
func pageValue(t *testing.T, ctx context.Context, expr string, out any) {
	t.Helper()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(`+expr+`)`))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	if err := json.Unmarshal([]byte(raw), out); err != nil {
		t.Fatalf("%s = %s: %v", expr, raw, err)
	}
}

// feedStats are the page's counters of one feed (window.heraldStats).
type feedStats struct {
	Received   int    `json:"received"`
	Duplicates int    `json:"duplicates"`
	Synthetic  int    `json:"synthetic"`
	Opens      int    `json:"opens"`
	Reconnects int    `json:"reconnects"`
	LastID     string `json:"lastId"`
}

func pageFeed(t *testing.T, ctx context.Context, name string) feedStats {
	t.Helper()
	var f feedStats
	pageValue(t, ctx, fmt.Sprintf(`(window.heraldStats.feeds[%q] || {})`, name), &f)
	return f
}
