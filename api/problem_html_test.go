package api_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/herald-sse/herald/internal/testutil"
)

// TestProblemShowsHTMLCharacters (issue 15 §4): a problem body quoting
// the input shows <, > and & as themselves, not as \u003c, \u003e and
// \u0026, and says nosniff so no browser takes it for HTML.
func TestProblemShowsHTMLCharacters(t *testing.T) {
	s := testutil.Start(t)
	req, _ := http.NewRequest("POST", s.URL+"/v1/tasks", strings.NewReader(`{"<b>&co": 1}`))
	req.Header.Set("Authorization", "Bearer "+s.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), `"field":"<b>&co"`) || strings.Contains(string(b), `\u00`) {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("headers %v", resp.Header)
	}
}
