package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/herald-sse/herald/api"
	"github.com/herald-sse/herald/internal/testutil"
)

// TestCookieWriteNeedsCSRF: a write authorized by the login cookie is
// accepted only with the Herald-CSRF value its login returned and, when an
// Origin is sent, from herald's own origin or a --cors-origin (SPEC §7).
// Bearer writes need nothing more; the CORS answers name the header.
func TestCookieWriteNeedsCSRF(t *testing.T) {
	const allowed = "https://ops.example.test"
	s := testutil.Start(t, testutil.WithConfig(func(c *api.Config) { c.CORSOrigins = []string{allowed} }))
	login := func() (cookie, csrf string) {
		resp := pjDo(t, s, "POST", "/v1/login", s.Token, "", map[string]string{"Origin": allowed})
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("login: %d", resp.StatusCode)
		}
		if got := resp.Header.Get("Access-Control-Expose-Headers"); !strings.Contains(got, api.CSRFHeader) {
			t.Errorf("login answer to a --cors-origin exposes %q, want %s", got, api.CSRFHeader)
		}
		for _, c := range resp.Cookies() {
			if c.Name == api.CookieName {
				cookie = c.Value
			}
		}
		return cookie, resp.Header.Get(api.CSRFHeader)
	}
	cookie, csrf := login()
	other, otherCSRF := login()
	if csrf == "" || otherCSRF == "" || csrf == otherCSRF || cookie == other {
		t.Fatalf("two logins: csrf %q and %q", csrf, otherCSRF)
	}
	own := s.URL
	for _, tc := range []struct {
		name    string
		cookie  string
		headers map[string]string
		want    int
		field   string
	}{
		{"no header", cookie, nil, 401, api.CSRFHeader},
		{"wrong value", cookie, map[string]string{api.CSRFHeader: "x"}, 401, api.CSRFHeader},
		{"another login's value", cookie, map[string]string{api.CSRFHeader: otherCSRF}, 401, api.CSRFHeader},
		{"foreign origin", cookie, map[string]string{api.CSRFHeader: csrf, "Origin": "https://evil.example"}, 401, "Origin"},
		{"its value", cookie, map[string]string{api.CSRFHeader: csrf}, 201, ""},
		{"its value, own origin", cookie, map[string]string{api.CSRFHeader: csrf, "Origin": own}, 201, ""},
		{"its value, a --cors-origin", cookie, map[string]string{api.CSRFHeader: csrf, "Origin": allowed}, 201, ""},
		{"the other login, its value", other, map[string]string{api.CSRFHeader: otherCSRF}, 201, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{"Cookie": api.CookieName + "=" + tc.cookie}
			for k, v := range tc.headers {
				h[k] = v
			}
			resp := pjDo(t, s, "POST", "/v1/tasks", "", `{"total_progress": 2}`, h)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.want, body)
			}
			if tc.field != "" {
				var p struct {
					Field string `json:"field"`
				}
				if err := json.Unmarshal(body, &p); err != nil || p.Field != tc.field {
					t.Errorf("problem %s names field %q, want %q", body, p.Field, tc.field)
				}
			}
		})
	}
	// A bearer write needs no Herald-CSRF; a GET with the cookie neither.
	if resp := pjDo(t, s, "POST", "/v1/tasks", s.Token, `{}`, nil); resp.StatusCode != 201 {
		t.Errorf("bearer write: %d", resp.StatusCode)
	}
	if resp := pjDo(t, s, "GET", "/v1/sessions", "", "", map[string]string{"Cookie": api.CookieName + "=" + cookie}); resp.StatusCode != 200 {
		t.Errorf("cookie read: %d", resp.StatusCode)
	}
	// The preflight allows the header.
	resp := pjDo(t, s, "OPTIONS", "/v1/tasks", "", "", map[string]string{"Origin": allowed, "Access-Control-Request-Method": "POST"})
	resp.Body.Close()
	if got := resp.Header.Get("Access-Control-Allow-Headers"); !strings.Contains(got, api.CSRFHeader) {
		t.Errorf("preflight allows %q, want %s among them", got, api.CSRFHeader)
	}
}
