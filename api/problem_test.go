package api_test

import (
	"encoding/json"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/herald-sse/herald/api"
	"github.com/herald-sse/herald/internal/testutil"
)

// TestStoreErrorsStayInTheLog: when the store fails, the client gets a
// generic 503 problem with a request id (its own X-Request-Id when that
// is a short safe token, else a generated one) and none of the store's
// text; the server's log line for it has the same id and the cause.
func TestStoreErrorsStayInTheLog(t *testing.T) {
	dir, task, _ := stoppedStore(t, 1)
	a, logs, st := notReadyAPIStore(t, dir, api.Config{})
	runAPI(t, a)
	srv := httptest.NewServer(a)
	defer srv.Close()
	st.Close() // every store call fails from now on
	generated := regexp.MustCompile(`^[0-9a-f]{16}$`)
	for _, tc := range []struct {
		name, sent string
		want       *regexp.Regexp
	}{
		{"client id", "req-42.a_B", regexp.MustCompile(`^req-42\.a_B$`)},
		{"no id", "", generated},
		{"unsafe id", "a b;c", generated},
		{"long id", strings.Repeat("x", 65), generated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{"Authorization": "Bearer " + testutil.BootstrapToken}
			if tc.sent != "" {
				h[api.RequestIDHeader] = tc.sent
			}
			resp, b := doBody(t, "POST", srv.URL+"/v1/tasks/"+task+"/progress", `{"current_progress":2}`, h)
			var p api.Problem
			if err := json.Unmarshal(b, &p); err != nil || resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" {
				t.Fatalf("%d %s (%v)", resp.StatusCode, b, err)
			}
			for _, leak := range []string{"nats", "connection", "closed", "store:"} {
				if strings.Contains(strings.ToLower(p.Detail), leak) {
					t.Fatalf("the problem shows internal text %q: %s", leak, p.Detail)
				}
			}
			id := resp.Header.Get(api.RequestIDHeader)
			if !tc.want.MatchString(id) || p.RequestID != id || p.Instance != "urn:herald:request:"+id {
				t.Fatalf("X-Request-Id %q, problem %s", id, b)
			}
			line := ""
			for _, l := range strings.Split(logs.String(), "\n") {
				if strings.Contains(l, `"request_id":"`+id+`"`) {
					line = l
				}
			}
			if !strings.Contains(line, `"level":"WARN"`) || !strings.Contains(line, `"err":"`) {
				t.Fatalf("no warning with request_id %s and the cause in the log:\n%s", id, logs)
			}
		})
	}
}
