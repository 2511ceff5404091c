package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/herald-sse/herald/client"
	"github.com/herald-sse/herald/internal/testutil"
)

// TestSessionBadInput: every refused session request gets the SPEC status
// with a problem+json body naming the field, and appends nothing.
func TestSessionBadInput(t *testing.T) {
	s := testutil.Start(t)
	ctx := context.Background()
	s.CreateDomain(t, "other")
	s.CreateGroup(t, "default", "g")
	s.CreateGroup(t, "other", "og")
	user := s.CreateKey(t, "user", "default", []string{"g"}, "")
	user2 := s.CreateKey(t, "user", "default", []string{"g"}, "")
	otherUser := s.CreateKey(t, "user", "other", []string{"og"}, "")
	svc := s.CreateKey(t, "service", "default", nil, "")
	node := s.CreateKey(t, "node", "default", nil, "n1")
	started := func(ev string) {
		if _, err := s.Client(svc.Token).ReportSession(ctx, client.SessionReport{SessionID: "live",
			OwnerAccessKey: user.AccessKey, Group: "g", Event: ev}, ""); err != nil {
			t.Fatal(err)
		}
	}
	started("session_enqueued")
	started("session_preparing")

	report := func(fields map[string]any) string {
		b, _ := json.Marshal(fields)
		return string(b)
	}
	ok := map[string]any{"sessionId": "s1", "ownerAccessKey": user.AccessKey, "group": "g", "event": "session_enqueued"}
	with := func(k string, v any) string {
		m := map[string]any{}
		for k, v := range ok {
			m[k] = v
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return report(m)
	}
	cases := []struct {
		name, method, path, token, body string
		status                          int
		field                           string
		detail                          string // substring
	}{
		{"unknown event", "POST", "/v1/sessions/events", svc.Token, with("event", "session_exploded"), 400, "event", ""},
		{"missing event", "POST", "/v1/sessions/events", svc.Token, with("event", nil), 400, "event", ""},
		{"bad slug", "POST", "/v1/sessions/events", svc.Token, with("sessionId", "bad id!"), 400, "sessionId", ""},
		{"slug too long", "POST", "/v1/sessions/events", svc.Token, with("sessionId", strings.Repeat("a", 65)), 400, "sessionId", ""},
		{"unknown owner key", "POST", "/v1/sessions/events", svc.Token, with("ownerAccessKey", "HKNOSUCHKEY"), 400, "ownerAccessKey", ""},
		{"owner of another domain", "POST", "/v1/sessions/events", svc.Token, with("ownerAccessKey", otherUser.AccessKey), 400, "ownerAccessKey", ""},
		{"group of another domain", "POST", "/v1/sessions/events", svc.Token, with("group", "og"), 400, "group", ""},
		{"result on a non-terminal event", "POST", "/v1/sessions/events", svc.Token, with("result", "SUCCESS"), 400, "result", ""},
		{"bad result", "POST", "/v1/sessions/events", svc.Token, report(map[string]any{"sessionId": "live", "ownerAccessKey": user.AccessKey, "group": "g", "event": "session_terminated", "result": "MAYBE"}), 400, "result", ""},
		{"wrong type", "POST", "/v1/sessions/events", svc.Token, with("sessionId", 12), 400, "sessionId", ""},
		{"unknown field", "POST", "/v1/sessions/events", svc.Token, with("color", "red"), 400, "color", ""},
		{"malformed JSON", "POST", "/v1/sessions/events", svc.Token, `{"sessionId":`, 400, "", ""},
		{"huge body", "POST", "/v1/sessions/events", svc.Token, `{"reason":"` + strings.Repeat("x", 1<<20) + `"}`, 413, "", ""},
		{"missing token", "POST", "/v1/sessions/events", "", with("sessionId", "s2"), 401, "", ""},
		{"user reports", "POST", "/v1/sessions/events", user.Token, with("sessionId", "s2"), 403, "", ""},
		{"node reports", "POST", "/v1/sessions/events", node.Token, with("sessionId", "s2"), 403, "", ""},
		{"out of order", "POST", "/v1/sessions/events", svc.Token, report(map[string]any{"sessionId": "live", "ownerAccessKey": user.AccessKey, "group": "g", "event": "session_started"}), 409, "", "preparing"},
		{"first report not enqueued/preparing", "POST", "/v1/sessions/events", svc.Token, with("event", "session_started"), 409, "", ""},
		{"feed: bad slug", "GET", "/events/session?sessionId=a%20b", user.Token, "", 400, "sessionId", ""},
		{"feed: bad group", "GET", "/events/session?sessionId=*&group=..", user.Token, "", 400, "group", ""},
		{"feed: missing token", "GET", "/events/session?sessionId=*", "", "", 401, "", ""},
		{"feed: user naming another owner", "GET", "/events/session?sessionId=*&ownerAccessKey=" + user2.AccessKey, user.Token, "", 403, "", ""},
		{"feed: unknown group", "GET", "/events/session?sessionId=*&group=nosuch", s.Token, "", 404, "", ""},
		{"feed: user's non-member group", "GET", "/events/session?sessionId=*&group=og", user.Token, "", 404, "", ""},
		{"feed: node key", "GET", "/events/session?sessionId=*", node.Token, "", 403, "", ""},
		{"list: bad state", "GET", "/v1/sessions?state=running", s.Token, "", 400, "state", ""},
		{"get: another user's", "GET", "/v1/sessions/" + user.AccessKey + "/live", user2.Token, "", 404, "", ""},
		{"get: another tenant's", "GET", "/v1/sessions/" + user.AccessKey + "/live", otherUser.Token, "", 404, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := s.API.Views().Applied()
			req, _ := http.NewRequest(tc.method, s.URL+tc.path, bytes.NewBufferString(tc.body))
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				p := testutil.Problem(t, resp)
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, p.Detail, tc.status)
			}
			if tc.status == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Fatal("401 without WWW-Authenticate: Bearer")
			}
			p := testutil.Problem(t, resp)
			if p.Status != tc.status || p.Type == "" || p.Title == "" || p.Detail == "" || p.Field != tc.field {
				t.Fatalf("problem %+v, want field %q", p, tc.field)
			}
			if !strings.Contains(p.Detail, tc.detail) {
				t.Fatalf("detail %q does not mention %q", p.Detail, tc.detail)
			}
			if after := s.API.Views().Applied(); after != before {
				t.Fatalf("a refused request appended %d records", after-before)
			}
		})
	}
	// The refused reports changed nothing: "live" is still preparing.
	var got client.Session
	if err := s.Admin().Do(ctx, "GET", "/v1/sessions/"+user.AccessKey+"/live", nil, &got, ""); err != nil || got.State != "preparing" {
		t.Fatalf("state after refusals: %v %+v", err, got)
	}
	// An idempotent retry returns the first answer and emits nothing new,
	// even after the session moved on.
	c := s.Client(svc.Token)
	r1, err := c.ReportSession(ctx, client.SessionReport{SessionID: "live", OwnerAccessKey: user.AccessKey, Group: "g", Event: "session_creating"}, "k-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReportSession(ctx, client.SessionReport{SessionID: "live", OwnerAccessKey: user.AccessKey, Group: "g", Event: "session_started"}, ""); err != nil {
		t.Fatal(err)
	}
	before := s.API.Views().Applied()
	r2, err := c.ReportSession(ctx, client.SessionReport{SessionID: "live", OwnerAccessKey: user.AccessKey, Group: "g", Event: "session_creating"}, "k-1")
	if err != nil || r2 != r1 || s.API.Views().Applied() != before {
		t.Fatalf("retry: %v %+v vs %+v, appended %d", err, r2, r1, s.API.Views().Applied()-before)
	}
}
