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

// TestAbsoluteURIsIgnoreHost: Location, uri and Link name the public URL
// (Config.PublicURL, else the address the connection came to), never the
// request's Host header (issue 12: "Host: evil.example" was reflected).
func TestAbsoluteURIsIgnoreHost(t *testing.T) {
	for _, c := range []struct {
		name   string
		public string
	}{
		{"derived from the local address", ""},
		{"--public-url", "https://herald.example.com/base"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := testutil.Start(t, testutil.WithConfig(func(cfg *api.Config) { cfg.PublicURL = c.public }))
			want := c.public
			if want == "" {
				want = s.URL
			}
			evil := map[string]string{"Host": "evil.example"}
			for i := 0; i < 2; i++ {
				req, _ := http.NewRequest("POST", s.URL+"/organizations/default/pushy/jobs",
					strings.NewReader(`{"command":"chef-client","nodes":["n1"]}`))
				req.Host = "evil.example"
				req.Header.Set("Authorization", "Bearer "+s.Token)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var body struct {
					URI string `json:"uri"`
				}
				_ = json.Unmarshal(b, &body)
				loc := resp.Header.Get("Location")
				if resp.StatusCode != http.StatusCreated || !strings.HasPrefix(loc, want+"/organizations/default/pushy/jobs/") || body.URI != loc {
					t.Fatalf("start job with Host: evil.example: %d, Location %q, uri %q; want them on %s", resp.StatusCode, loc, body.URI, want)
				}
			}
			req, _ := http.NewRequest("GET", s.URL+"/organizations/default/pushy/jobs?limit=1", nil)
			req.Host = evil["Host"]
			req.Header.Set("Authorization", "Bearer "+s.Token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if link := resp.Header.Get("Link"); !strings.HasPrefix(link, "<"+want+"/organizations/default/pushy/jobs?") {
				t.Fatalf("list with Host: evil.example: Link %q, want it on %s", link, want)
			}
		})
	}
}
