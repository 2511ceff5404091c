package dashboard_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/herald-sse/herald/dashboard"
)

// TestHandler: / is the page and /ui/ its files, each with a CSP that
// allows only the page's own origin; directories, index.html under /ui/
// and missing files go to the notFound handler given.
func TestHandler(t *testing.T) {
	notFound := func(w http.ResponseWriter, r *http.Request) { http.Error(w, "nf", http.StatusTeapot) }
	h := dashboard.Handler(notFound)
	for _, tc := range []struct {
		path, ctype, contains string
		status                int
	}{
		{"/", "text/html", `<script type="module" src="/ui/app.js">`, 200},
		{"/ui/app.js", "text/javascript", "import", 200},
		{"/ui/feed.js", "text/javascript", "window.heraldStats", 200},
		{"/ui/style.css", "text/css", "[hidden]", 200},
		{"/ui/", "", "nf", http.StatusTeapot},
		{"/ui/index.html", "", "nf", http.StatusTeapot},
		{"/ui/nosuch.js", "", "nf", http.StatusTeapot},
		{"/ui/../dashboard.go", "", "nf", http.StatusTeapot},
	} {
		t.Run(tc.path, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", tc.path, nil))
			body, _ := io.ReadAll(w.Result().Body)
			if w.Code != tc.status || !strings.Contains(string(body), tc.contains) {
				t.Fatalf("%d %q, want %d with %q", w.Code, body, tc.status, tc.contains)
			}
			if tc.status != 200 {
				return
			}
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, tc.ctype) {
				t.Errorf("Content-Type %q, want %s", ct, tc.ctype)
			}
			if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("CSP %q", csp)
			}
		})
	}
}

// TestNoSecretInStorage: the page's scripts never touch localStorage,
// sessionStorage or document.cookie (the login cookie is HttpOnly and the
// Herald-CSRF value stays in memory).
func TestNoSecretInStorage(t *testing.T) {
	h := dashboard.Handler(http.NotFound)
	for _, f := range []string{"app.js", "api.js", "feed.js", "sessions.js", "tasks.js", "jobs.js", "nodes.js"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/ui/"+f, nil))
		if w.Code != 200 {
			t.Fatalf("%s: %d", f, w.Code)
		}
		for _, bad := range []string{"localStorage", "sessionStorage", "document.cookie", "indexedDB"} {
			if strings.Contains(w.Body.String(), bad) {
				t.Errorf("%s uses %s", f, bad)
			}
		}
	}
}
