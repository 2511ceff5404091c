package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/herald-sse/herald/api"
	"github.com/herald-sse/herald/internal/testutil"
)

// The bad-input suite: every refused request of SPEC §4, §6 and §7 answers
// the right 4xx with a complete problem+json body, and leaves no trace —
// the entity state is unchanged and the store's last sequence did not move.

// biEnv is the fixture: two tenants with one key of every role (and a
// second service and user key), a running task at 5/10, a finished task,
// and a task of the other tenant.
type biEnv struct {
	s    *testutil.Server
	hc   *http.Client
	keys map[string]testutil.Key // by fixture name: superA, adminA, svcA, …
	vars map[string]string       // placeholders {name} in paths, bodies and headers
}

const (
	biDomA = "acme"
	biDomB = "globex"
)

func biSetup(t *testing.T) *biEnv {
	t.Helper()
	s := testutil.Start(t)
	e := &biEnv{s: s, hc: &http.Client{Timeout: 30 * time.Second},
		keys: map[string]testutil.Key{}, vars: map[string]string{}}
	e.keys["super"] = testutil.Key{Token: s.Token}
	for _, dom := range []struct{ d, sfx string }{{biDomA, "A"}, {biDomB, "B"}} {
		s.CreateDomain(t, dom.d)
		s.CreateGroup(t, dom.d, "proj")
		for _, role := range []string{"admin", "service", "user"} {
			name := map[string]string{"admin": "admin", "service": "svc", "user": "user"}[role]
			e.keys[name+dom.sfx] = s.CreateKey(t, role, dom.d, []string{"proj"}, "")
		}
		e.keys["svc2"+dom.sfx] = s.CreateKey(t, "service", dom.d, nil, "")
		e.keys["user2"+dom.sfx] = s.CreateKey(t, "user", dom.d, nil, "")
		e.keys["node"+dom.sfx] = s.CreateKey(t, "node", dom.d, nil, "n1")
	}
	revoked := s.CreateKey(t, "user", biDomA, nil, "")
	if err := s.Admin().Do(context.Background(), "DELETE", "/v1/admin/keys/"+revoked.AccessKey, nil, nil, ""); err != nil {
		// Reported once here; the cases below still need a dead token.
		t.Errorf("revoking a key: DELETE /v1/admin/keys/%s: %v", revoked.AccessKey, err)
		revoked.Token = "hrld_never-issued-" + revoked.AccessKey
	}
	e.keys["revoked"] = revoked
	for name, k := range e.keys {
		e.vars[name] = k.AccessKey
		e.vars[name+".token"] = k.Token
	}
	e.vars["superAK"] = s.API.Views().Auth.Keys("default")[0].AccessKey
	e.vars["cookieSvcA"] = e.login(t, e.keys["svcA"].Token)
	e.vars["unknownTask"] = "0b7c7e4e-3a51-4f32-9a49-3c7a1f0e9d21"
	e.resetTasks(t)
	return e
}

// resetTasks (re)creates the fixture tasks; it runs again after a case
// that wrote although it should not have, so later cases start clean.
func (e *biEnv) resetTasks(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	svcA := e.s.Client(e.keys["svcA"].Token)
	id, err := svcA.CreateTask(ctx, 10, nil, e.keys["userA"].AccessKey)
	if err != nil {
		t.Fatalf("create task: %v", err)
	}
	if _, err := svcA.TaskProgress(ctx, id, 5, -1, nil); err != nil {
		t.Fatalf("progress: %v", err)
	}
	e.vars["taskA"] = id
	done, err := svcA.CreateTask(ctx, 3, nil, "")
	if err != nil {
		t.Fatalf("create task: %v", err)
	}
	if _, err := svcA.FinishTask(ctx, done, "done", nil); err != nil {
		t.Fatalf("finish: %v", err)
	}
	e.vars["taskDone"] = done
	b, err := e.s.Client(e.keys["svcB"].Token).CreateTask(ctx, 0, nil, e.keys["userB"].AccessKey)
	if err != nil {
		t.Fatalf("create task: %v", err)
	}
	e.vars["taskB"] = b
}

func (e *biEnv) login(t *testing.T, token string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", e.s.URL+"/v1/login", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := e.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == api.CookieName && c.Value != "" {
			return c.Value
		}
	}
	t.Fatalf("login: %d, no cookie", resp.StatusCode)
	return ""
}

// expand replaces {name} placeholders with the fixture's current values.
func (e *biEnv) expand(s string) string {
	if !strings.Contains(s, "{") {
		return s
	}
	for k, v := range e.vars {
		s = strings.ReplaceAll(s, "{"+k+"}", v)
	}
	return s
}

// biState is everything a refused request must leave as it was.
type biState struct {
	applied uint64
	reads   map[string]string
}

func (e *biEnv) state(t *testing.T) biState {
	t.Helper()
	st := biState{applied: e.s.API.Views().Applied(), reads: map[string]string{}}
	paths := []string{
		"/v1/admin/domains",
		"/v1/admin/domains/default/groups",
		"/v1/admin/domains/" + biDomA + "/groups",
		"/v1/admin/domains/" + biDomB + "/groups",
		"/v1/admin/keys",
		"/v1/tasks/{taskA}",
		"/v1/tasks/{taskDone}",
		"/v1/tasks/{taskB}",
	}
	for _, p := range paths {
		p = e.expand(p)
		resp := e.s.Get(t, context.Background(), p, e.s.Token, nil)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("state read %s: %d %s", p, resp.StatusCode, b)
		}
		st.reads[p] = string(b)
	}
	return st
}

// biCase is one refused request and the answer it must get.
type biCase struct {
	name   string
	method string
	path   string            // with {placeholders}
	who    string            // fixture key whose bearer token is sent; "" sends none
	auth   string            // raw Authorization header; overrides who
	header map[string]string // extra headers (values expanded)
	body   string            // with {placeholders}; "" sends no body
	raw    []byte            // a body sent as is (large ones); overrides body
	status int
	field  string // the problem's "field"; "" = not checked (400) / must be absent (others)
}

func (e *biEnv) send(t *testing.T, c biCase) (*http.Response, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var body io.Reader
	switch {
	case c.raw != nil:
		body = bytes.NewReader(c.raw)
	case c.body != "":
		body = strings.NewReader(e.expand(c.body))
	}
	req, err := http.NewRequestWithContext(ctx, c.method, e.s.URL+e.expand(c.path), body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	switch {
	case c.auth != "":
		req.Header.Set("Authorization", e.expand(c.auth))
	case c.who != "":
		k, ok := e.keys[c.who]
		if !ok {
			t.Fatalf("no fixture key %q", c.who)
		}
		req.Header.Set("Authorization", "Bearer "+k.Token)
	}
	for k, v := range c.header {
		req.Header.Set(k, e.expand(v))
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	defer resp.Body.Close()
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return resp, nil // a stream that should not have opened: do not wait for it
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", c.method, c.path, err)
	}
	return resp, b
}

// checkProblem checks an RFC 9457 answer: status, media type, every member.
func checkProblem(t *testing.T, resp *http.Response, b []byte, status int, field string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("status %d, want %d; body %.300s", resp.StatusCode, status, b)
	}
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json; body %.300s", resp.Header.Get("Content-Type"), b)
		return
	}
	var p map[string]any
	if err := json.Unmarshal(b, &p); err != nil {
		t.Errorf("problem body %q: %v", b, err)
		return
	}
	if s, _ := p["status"].(float64); int(s) != resp.StatusCode {
		t.Errorf("problem status %v, HTTP status %d", p["status"], resp.StatusCode)
	}
	for _, m := range []string{"type", "title", "detail"} {
		if s, _ := p[m].(string); s == "" {
			t.Errorf("problem %q missing or empty: %s", m, b)
		}
	}
	got, _ := p["field"].(string)
	switch {
	case field != "" && got != field:
		t.Errorf("problem field %q, want %q (detail %q)", got, field, p["detail"])
	case field == "" && status != http.StatusBadRequest && got != "":
		t.Errorf("problem field %q on a %d", got, status)
	}
	if resp.StatusCode == http.StatusUnauthorized && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("401 without WWW-Authenticate: Bearer (got %q)", resp.Header.Get("WWW-Authenticate"))
	}
}

// biBodyEndpoint is an endpoint that reads a JSON body, with a caller and
// body it would accept, and its typed fields.
type biBodyEndpoint struct {
	name, method, path, who string
	valid                   string
	fields                  []biWrongType
	unauthenticated         bool // POST /v1/login: no Authorization header
}

type biWrongType struct {
	what, body, field string
	status            int
}

func wt(what, body, field string) biWrongType {
	return biWrongType{what, body, field, http.StatusBadRequest}
}

func biBodyEndpoints() []biBodyEndpoint {
	finish := []biWrongType{
		wt("number for a string", `{"message":5}`, "message"),
		wt("object for a string", `{"message":{}}`, "message"),
		wt("array for a string", `{"message":["a"]}`, "message"),
	}
	slugName := []biWrongType{
		wt("number for a string", `{"name":5}`, "name"),
		wt("array for a string", `{"name":["x"]}`, "name"),
		wt("null name", `{"name":null}`, "name"),
		wt("missing name", `{}`, "name"),
		wt("empty name", `{"name":""}`, "name"),
		wt("name starting with a dash", `{"name":"-x"}`, "name"),
		wt("name with a space", `{"name":"a b"}`, "name"),
		wt("name with a slash", `{"name":"a/b"}`, "name"),
		wt("name with non-ASCII", `{"name":"caf\u00e9"}`, "name"),
		wt("name with a NUL", `{"name":"a\u0000b"}`, "name"),
		wt("name of 65 characters", `{"name":"`+strings.Repeat("n", 65)+`"}`, "name"),
	}
	eps := []biBodyEndpoint{
		{name: "create task", method: "POST", path: "/v1/tasks", who: "svcA", valid: `{"total_progress":3}`,
			fields: []biWrongType{
				wt("string for an int", `{"total_progress":"5"}`, "total_progress"),
				wt("fraction for an int", `{"total_progress":1.5}`, "total_progress"),
				wt("int overflow", `{"total_progress":9223372036854775808}`, "total_progress"),
				wt("bool for an int", `{"total_progress":true}`, "total_progress"),
				wt("negative total", `{"total_progress":-1}`, "total_progress"),
				wt("number for a string", `{"message":5}`, "message"),
				wt("object for a string", `{"message":{"a":1}}`, "message"),
				wt("number for ownerAccessKey", `{"ownerAccessKey":7}`, "ownerAccessKey"),
				wt("unknown ownerAccessKey", `{"ownerAccessKey":"HKNOSUCHKEY"}`, "ownerAccessKey"),
				wt("ownerAccessKey of another domain", `{"ownerAccessKey":"{userB}"}`, "ownerAccessKey"),
				// The problem names the member as the client wrote it, not Go-quoted.
				wt("unknown field with a quote in its name", `{"a\"b":1}`, `a"b`),
			}},
		{name: "progress", method: "POST", path: "/v1/tasks/{taskA}/progress", who: "svcA", valid: `{"current_progress":6}`,
			fields: []biWrongType{
				wt("string for an int", `{"current_progress":"6"}`, "current_progress"),
				wt("fraction for an int", `{"current_progress":6.5}`, "current_progress"),
				wt("array for an int", `{"current_progress":[6]}`, "current_progress"),
				wt("null current_progress", `{"current_progress":null}`, "current_progress"),
				wt("missing current_progress", `{"message":"hi"}`, "current_progress"),
				wt("negative current_progress", `{"current_progress":-1}`, "current_progress"),
				wt("string for total", `{"current_progress":6,"total_progress":"10"}`, "total_progress"),
				wt("negative total", `{"current_progress":6,"total_progress":-10}`, "total_progress"),
				wt("number for a string", `{"current_progress":6,"message":6}`, "message"),
				{"progress going backwards", `{"current_progress":4}`, "", http.StatusConflict},
				{"progress going backwards to 0", `{"current_progress":0}`, "", http.StatusConflict},
				{"progress over the total", `{"current_progress":11}`, "", http.StatusConflict},
				{"new total below the progress", `{"current_progress":5,"total_progress":4}`, "", http.StatusConflict},
				{"progress over a new total", `{"current_progress":30,"total_progress":20}`, "", http.StatusConflict},
			}},
		{name: "done", method: "POST", path: "/v1/tasks/{taskA}/done", who: "svcA", valid: `{"message":"ok"}`, fields: finish},
		{name: "fail", method: "POST", path: "/v1/tasks/{taskA}/fail", who: "svcA", valid: `{"message":"ko"}`, fields: finish},
		{name: "cancel", method: "POST", path: "/v1/tasks/{taskA}/cancel", who: "svcA", valid: `{"message":"bye"}`, fields: finish},
		{name: "create domain", method: "POST", path: "/v1/admin/domains", who: "super", valid: `{"name":"fresh-domain"}`,
			fields: append(slugName,
				biWrongType{"duplicate domain", `{"name":"` + biDomA + `"}`, "", http.StatusConflict},
				biWrongType{"duplicate default domain", `{"name":"default"}`, "", http.StatusConflict}),
		},
		{name: "create group", method: "POST", path: "/v1/admin/domains/" + biDomA + "/groups", who: "adminA", valid: `{"name":"fresh-group"}`,
			fields: append(slugName,
				biWrongType{"duplicate group", `{"name":"proj"}`, "", http.StatusConflict}),
		},
		{name: "create key", method: "POST", path: "/v1/admin/keys", who: "adminA", valid: `{"role":"user","domain":"` + biDomA + `"}`,
			fields: []biWrongType{
				wt("missing role", `{"domain":"`+biDomA+`"}`, "role"),
				wt("null role", `{"role":null,"domain":"`+biDomA+`"}`, "role"),
				wt("unknown role", `{"role":"root","domain":"`+biDomA+`"}`, "role"),
				wt("role in capitals", `{"role":"USER","domain":"`+biDomA+`"}`, "role"),
				wt("number for role", `{"role":1,"domain":"`+biDomA+`"}`, "role"),
				wt("number for domain", `{"role":"user","domain":5}`, "domain"),
				wt("invalid domain slug", `{"role":"user","domain":"a b"}`, "domain"),
				wt("node key without node", `{"role":"node","domain":"`+biDomA+`"}`, "node"),
				wt("node key with empty node", `{"role":"node","domain":"`+biDomA+`","node":""}`, "node"),
				wt("node key with invalid node", `{"role":"node","domain":"`+biDomA+`","node":"no/de"}`, "node"),
				wt("user key with a node", `{"role":"user","domain":"`+biDomA+`","node":"n1"}`, "node"),
				wt("string for groups", `{"role":"user","domain":"`+biDomA+`","groups":"proj"}`, "groups"),
				wt("object for groups", `{"role":"user","domain":"`+biDomA+`","groups":{"proj":true}}`, "groups"),
				wt("number in groups", `{"role":"user","domain":"`+biDomA+`","groups":[1]}`, "groups"),
				wt("invalid group slug", `{"role":"user","domain":"`+biDomA+`","groups":["a b"]}`, "groups"),
				wt("unknown group", `{"role":"user","domain":"`+biDomA+`","groups":["nope"]}`, "groups"),
				{"unknown domain", `{"role":"user","domain":"nope"}`, "", http.StatusNotFound},
				{"another tenant's domain", `{"role":"user","domain":"` + biDomB + `"}`, "", http.StatusNotFound},
				{"admin creating a superadmin", `{"role":"superadmin","domain":"` + biDomA + `"}`, "", http.StatusForbidden},
			}},
		{name: "login", method: "POST", path: "/v1/login", unauthenticated: true, valid: `{"token":"{svcA.token}"}`,
			fields: []biWrongType{
				wt("number for token", `{"token":5}`, "token"),
				wt("object for token", `{"token":{}}`, "token"),
				{"missing token", `{}`, "", http.StatusUnauthorized},
				{"null token", `{"token":null}`, "", http.StatusUnauthorized},
				{"empty token", `{"token":""}`, "", http.StatusUnauthorized},
				{"wrong token", `{"token":"hrld_wrong"}`, "", http.StatusUnauthorized},
				{"revoked token", `{"token":"{revoked.token}"}`, "", http.StatusUnauthorized},
			}},
	}
	return eps
}

// biBodyCases are the bad bodies every JSON endpoint refuses alike.
func biBodyCases(ep biBodyEndpoint) []biCase {
	over := append([]byte(`{"message":"`), bytes.Repeat([]byte("a"), api.MaxBody)...)
	over = append(over, `"}`...)
	spaces := append([]byte("{}"), bytes.Repeat([]byte(" "), api.MaxBody)...)
	// The valid body plus one member, for "unknown field beside known ones".
	withExtra := strings.TrimSuffix(ep.valid, "}")
	if withExtra != "{" {
		withExtra += ","
	}
	withExtra += `"extra":true}`
	// The valid body with its first key in capitals: JSON keys are
	// case-sensitive, so it is an unknown field.
	var firstKey string
	if i := strings.Index(ep.valid, `"`); i >= 0 {
		if j := strings.Index(ep.valid[i+1:], `"`); j >= 0 {
			firstKey = ep.valid[i+1 : i+1+j]
		}
	}
	gen := []struct {
		what, body string
		raw        []byte
		status     int
		field      string
	}{
		{what: "malformed JSON", body: `{"message":`, status: 400},
		{what: "unterminated string", body: `{"message":"abc`, status: 400},
		{what: "not JSON", body: `hello`, status: 400},
		{what: "single quotes", body: `{'message':'x'}`, status: 400},
		{what: "trailing comma", body: `{"message":"x",}`, status: 400},
		{what: "BOM before the object", body: "\ufeff{}", status: 400},
		{what: "unknown field", body: `{"bogus":1}`, status: 400, field: "bogus"},
		{what: "unknown field beside known ones", body: withExtra, status: 400, field: "extra"},
		{what: "field name in another case", body: strings.Replace(ep.valid, `"`+firstKey+`"`, `"`+strings.ToUpper(firstKey)+`"`, 1), status: 400, field: strings.ToUpper(firstKey)},
		{what: "array for the object", body: `[]`, status: 400},
		{what: "array of the valid object", body: "[" + ep.valid + "]", status: 400},
		{what: "string for the object", body: `"{}"`, status: 400},
		{what: "number for the object", body: `42`, status: 400},
		{what: "null for the object", body: `null`, status: 400},
		{what: "trailing garbage", body: ep.valid + `x`, status: 400},
		{what: "two objects", body: ep.valid + ep.valid, status: 400},
		{what: "trailing bracket", body: ep.valid + `]`, status: 400},
		{what: "trailing brace", body: ep.valid + ` }`, status: 400},
		{what: "body over 1 MiB", raw: over, status: 413},
		{what: "body over 1 MiB of whitespace", raw: spaces, status: 413},
	}
	var out []biCase
	for _, g := range gen {
		out = append(out, biCase{name: ep.name + "/" + g.what, method: ep.method, path: ep.path, who: ep.who,
			body: g.body, raw: g.raw, status: g.status, field: g.field})
	}
	for _, f := range ep.fields {
		out = append(out, biCase{name: ep.name + "/" + f.what, method: ep.method, path: ep.path, who: ep.who,
			body: f.body, status: f.status, field: f.field})
	}
	return out
}

// biAuthEndpoints lists every authenticated endpoint with a request the
// right caller would get accepted.
var biAuthEndpoints = []struct{ name, method, path, body string }{
	{"create task", "POST", "/v1/tasks", `{}`},
	{"progress", "POST", "/v1/tasks/{taskA}/progress", `{"current_progress":6}`},
	{"done", "POST", "/v1/tasks/{taskA}/done", `{}`},
	{"fail", "POST", "/v1/tasks/{taskA}/fail", `{}`},
	{"cancel", "POST", "/v1/tasks/{taskA}/cancel", `{}`},
	{"get task", "GET", "/v1/tasks/{taskA}", ""},
	{"task feed", "GET", "/events/background-task?taskId={taskA}", ""},
	{"create domain", "POST", "/v1/admin/domains", `{"name":"auth-probe"}`},
	{"list domains", "GET", "/v1/admin/domains", ""},
	{"create group", "POST", "/v1/admin/domains/" + biDomA + "/groups", `{"name":"auth-probe"}`},
	{"list groups", "GET", "/v1/admin/domains/" + biDomA + "/groups", ""},
	{"create key", "POST", "/v1/admin/keys", `{"role":"user","domain":"` + biDomA + `"}`},
	{"list keys", "GET", "/v1/admin/keys", ""},
	{"delete key", "DELETE", "/v1/admin/keys/{user2A}", ""},
}

func biAuthCases() []biCase {
	var out []biCase
	for _, ep := range biAuthEndpoints {
		for _, a := range []struct{ what, auth string }{
			{"missing token", ""},
			{"wrong token", "Bearer hrld_not-a-real-token"},
			{"revoked token", "Bearer {revoked.token}"},
			{"Basic scheme", "Basic dXNlcjpwYXNz"},
			{"scheme without token", "Bearer"},
			{"token without scheme", "{super.token}"},
			{"tab after the scheme", "Bearer\t{super.token}"},
		} {
			out = append(out, biCase{name: ep.name + "/" + a.what, method: ep.method, path: ep.path, auth: a.auth,
				body: ep.body, status: http.StatusUnauthorized})
		}
	}
	// A write with the login cookie alone, without its Herald-CSRF value,
	// is refused naming that header (SPEC §7).
	for _, ep := range biAuthEndpoints {
		if ep.method != "GET" {
			out = append(out, biCase{name: ep.name + "/login cookie on a write", method: ep.method, path: ep.path,
				header: map[string]string{"Cookie": api.CookieName + "={cookieSvcA}"}, body: ep.body, status: http.StatusUnauthorized, field: api.CSRFHeader})
		}
	}
	out = append(out,
		biCase{name: "login/wrong bearer token", method: "POST", path: "/v1/login", auth: "Bearer hrld_wrong", status: 401},
		biCase{name: "login/malformed Authorization", method: "POST", path: "/v1/login", auth: "Basic dXNlcjpwYXNz", body: `{"token":"{svcA.token}"}`, status: 401},
		biCase{name: "login/revoked bearer token", method: "POST", path: "/v1/login", auth: "Bearer {revoked.token}", status: 401},
		biCase{name: "get task/expired login cookie", method: "GET", path: "/v1/tasks/{taskA}",
			header: map[string]string{"Cookie": api.CookieName + "=not-a-login"}, status: 401},
	)
	return out
}

// biAccessCases: roles (403), tenants and ownership (404 without revealing
// existence), ids, lifecycle (409) and Idempotency-Key.
func biAccessCases() []biCase {
	const (
		userB  = "/v1/admin/keys/{userB}"
		groupA = "/v1/admin/domains/" + biDomA + "/groups"
		groupB = "/v1/admin/domains/" + biDomB + "/groups"
	)
	reports := []string{"progress", "done", "fail", "cancel"}
	reportBody := map[string]string{"progress": `{"current_progress":6}`, "done": `{}`, "fail": `{}`, "cancel": `{}`}
	var out []biCase
	add := func(c ...biCase) { out = append(out, c...) }

	// Producer writes by keys that may not produce.
	for _, who := range []string{"userA", "nodeA"} {
		add(biCase{name: who + " creates a task", method: "POST", path: "/v1/tasks", who: who, body: `{}`, status: 403})
	}
	for _, r := range reports {
		// The owner sees the task, so it learns it may not write (403); a
		// node key cannot see it at all (404).
		add(biCase{name: "owner userA reports " + r, method: "POST", path: "/v1/tasks/{taskA}/" + r, who: "userA", body: reportBody[r], status: 403},
			biCase{name: "nodeA reports " + r, method: "POST", path: "/v1/tasks/{taskA}/" + r, who: "nodeA", body: reportBody[r], status: 404},
			biCase{name: "non-owner user2A reports " + r, method: "POST", path: "/v1/tasks/{taskA}/" + r, who: "user2A", body: reportBody[r], status: 404})
	}
	// Admin writes and reads by keys that may not administer.
	for _, who := range []string{"userA", "nodeA", "svcA"} {
		add(biCase{name: who + " creates a domain", method: "POST", path: "/v1/admin/domains", who: who, body: `{"name":"by-` + strings.ToLower(who) + `"}`, status: 403},
			biCase{name: who + " lists domains", method: "GET", path: "/v1/admin/domains", who: who, status: 403},
			biCase{name: who + " creates a group", method: "POST", path: groupA, who: who, body: `{"name":"by-` + strings.ToLower(who) + `"}`, status: 403},
			biCase{name: who + " lists groups", method: "GET", path: groupA, who: who, status: 403},
			biCase{name: who + " creates a key", method: "POST", path: "/v1/admin/keys", who: who, body: `{"role":"user","domain":"` + biDomA + `"}`, status: 403},
			biCase{name: who + " lists keys", method: "GET", path: "/v1/admin/keys", who: who, status: 403},
			biCase{name: who + " deletes a key", method: "DELETE", path: "/v1/admin/keys/{user2A}", who: who, status: 403})
	}
	add(biCase{name: "adminA creates a domain", method: "POST", path: "/v1/admin/domains", who: "adminA", body: `{"name":"by-admin"}`, status: 403})

	// Another tenant's task: read, feed and every report are 404.
	for _, who := range []string{"svcB", "userB", "adminB", "nodeB"} {
		add(biCase{name: who + " reads taskA", method: "GET", path: "/v1/tasks/{taskA}", who: who, status: 404},
			biCase{name: who + " watches taskA", method: "GET", path: "/events/background-task?taskId={taskA}", who: who, status: 404},
			biCase{name: who + " reads the finished task", method: "GET", path: "/v1/tasks/{taskDone}", who: who, status: 404},
			biCase{name: who + " watches the finished task", method: "GET", path: "/events/background-task?taskId={taskDone}", who: who, status: 404})
		for _, r := range reports {
			add(biCase{name: who + " reports " + r + " on taskA", method: "POST", path: "/v1/tasks/{taskA}/" + r, who: who, body: reportBody[r], status: 404})
		}
	}
	for _, r := range reports {
		add(biCase{name: "svcA reports " + r + " on taskB", method: "POST", path: "/v1/tasks/{taskB}/" + r, who: "svcA", body: reportBody[r], status: 404},
			biCase{name: "adminA reports " + r + " on taskB", method: "POST", path: "/v1/tasks/{taskB}/" + r, who: "adminA", body: reportBody[r], status: 404})
	}
	// Same tenant, not the task's: a user that does not own it, a node,
	// a service key that did not create it (SPEC §4).
	for _, who := range []string{"user2A", "nodeA", "svc2A"} {
		add(biCase{name: who + " reads taskA", method: "GET", path: "/v1/tasks/{taskA}", who: who, status: 404},
			biCase{name: who + " watches taskA", method: "GET", path: "/events/background-task?taskId={taskA}", who: who, status: 404})
	}
	add(biCase{name: "userA watches the finished task it does not own", method: "GET", path: "/events/background-task?taskId={taskDone}", who: "userA", status: 404})

	// Unknown tasks and reports.
	add(biCase{name: "unknown task read", method: "GET", path: "/v1/tasks/{unknownTask}", who: "super", status: 404},
		biCase{name: "unknown task feed", method: "GET", path: "/events/background-task?taskId={unknownTask}", who: "super", status: 404},
		biCase{name: "unknown task feed with Last-Event-ID", method: "GET", path: "/events/background-task?taskId={unknownTask}", who: "super",
			header: map[string]string{"Last-Event-ID": "garbage"}, status: 404},
		biCase{name: "nil UUID read", method: "GET", path: "/v1/tasks/00000000-0000-0000-0000-000000000000", who: "super", status: 404},
		biCase{name: "unknown report kind", method: "POST", path: "/v1/tasks/{taskA}/pause", who: "svcA", body: `{}`, status: 404})
	for _, r := range reports {
		add(biCase{name: "unknown task " + r, method: "POST", path: "/v1/tasks/{unknownTask}/" + r, who: "svcA", body: reportBody[r], status: 404})
	}

	// Bad UUIDs, in the path and in ?taskId=.
	for _, bad := range []struct{ what, id string }{
		{"not a UUID", "not-a-uuid"},
		{"UUID without dashes", "0b7c7e4e3a514f329a493c7a1f0e9d21"},
		{"UUID in braces", "%7B0b7c7e4e-3a51-4f32-9a49-3c7a1f0e9d21%7D"},
		{"URN UUID", "urn:uuid:0b7c7e4e-3a51-4f32-9a49-3c7a1f0e9d21"},
		{"UUID with a trailing char", "0b7c7e4e-3a51-4f32-9a49-3c7a1f0e9d21a"},
		{"UUID with a non-hex digit", "0b7c7e4e-3a51-4f32-9a49-3c7a1f0e9d2g"},
		{"UUID too short", "0b7c7e4e-3a51-4f32-9a49-3c7a1f0e9d2"},
		{"UUID with misplaced dashes", "0b7c7e4e3-a51-4f32-9a49-3c7a1f0e9d21"},
		{"UUID with a space", "0b7c7e4e-3a51-4f32-9a49-3c7a1f0e9d2%20"},
	} {
		add(biCase{name: "get task/" + bad.what, method: "GET", path: "/v1/tasks/" + bad.id, who: "super", status: 400, field: "id"},
			biCase{name: "feed/" + bad.what, method: "GET", path: "/events/background-task?taskId=" + bad.id, who: "super", status: 400, field: "taskId"})
		for _, r := range reports {
			add(biCase{name: r + "/" + bad.what, method: "POST", path: "/v1/tasks/" + bad.id + "/" + r, who: "svcA", body: reportBody[r], status: 400, field: "id"})
		}
	}
	add(biCase{name: "feed/missing taskId", method: "GET", path: "/events/background-task", who: "super", status: 400, field: "taskId"},
		biCase{name: "feed/empty taskId", method: "GET", path: "/events/background-task?taskId=", who: "super", status: 400, field: "taskId"},
		biCase{name: "feed/taskId under another name", method: "GET", path: "/events/background-task?taskid={taskA}", who: "super", status: 400, field: "taskId"})

	// After the terminal report: nothing is accepted (409).
	for _, r := range reports {
		add(biCase{name: "finished task/" + r, method: "POST", path: "/v1/tasks/{taskDone}/" + r, who: "svcA", body: reportBody[r], status: 409},
			biCase{name: "finished task/" + r + " by a superadmin", method: "POST", path: "/v1/tasks/{taskDone}/" + r, who: "super", body: reportBody[r], status: 409})
	}

	// Unknown or foreign domains and groups; keys.
	add(biCase{name: "unknown domain/create group", method: "POST", path: "/v1/admin/domains/nope/groups", who: "super", body: `{"name":"g"}`, status: 404},
		biCase{name: "unknown domain/list groups", method: "GET", path: "/v1/admin/domains/nope/groups", who: "super", status: 404},
		biCase{name: "unknown domain/list keys", method: "GET", path: "/v1/admin/keys?domain=nope", who: "super", status: 404},
		biCase{name: "invalid domain slug/list groups", method: "GET", path: "/v1/admin/domains/a%20b/groups", who: "super", status: 404},
		biCase{name: "adminA creates a group in globex", method: "POST", path: groupB, who: "adminA", body: `{"name":"g"}`, status: 404},
		biCase{name: "adminA lists globex groups", method: "GET", path: groupB, who: "adminA", status: 404},
		biCase{name: "adminA lists globex keys", method: "GET", path: "/v1/admin/keys?domain=" + biDomB, who: "adminA", status: 404},
		biCase{name: "adminA deletes a globex key", method: "DELETE", path: userB, who: "adminA", status: 404},
		biCase{name: "adminA deletes the superadmin", method: "DELETE", path: "/v1/admin/keys/{superAK}", who: "adminA", status: 404},
		biCase{name: "unknown key delete", method: "DELETE", path: "/v1/admin/keys/HKNOSUCHKEY", who: "super", status: 404},
		biCase{name: "revoked key delete", method: "DELETE", path: "/v1/admin/keys/{revoked}", who: "super", status: 404},
		biCase{name: "last superadmin delete", method: "DELETE", path: "/v1/admin/keys/{superAK}", who: "super", status: 409},
		biCase{name: "unknown endpoint", method: "POST", path: "/v1/nope", who: "super", body: `{}`, status: 404},
	)

	// Idempotency-Key over its limit, on every kind of write.
	long := strings.Repeat("k", 256)
	add(biCase{name: "create task/Idempotency-Key too long", method: "POST", path: "/v1/tasks", who: "svcA", body: `{}`,
		header: map[string]string{"Idempotency-Key": long}, status: 400, field: "Idempotency-Key"},
		biCase{name: "progress/Idempotency-Key too long", method: "POST", path: "/v1/tasks/{taskA}/progress", who: "svcA", body: `{"current_progress":6}`,
			header: map[string]string{"Idempotency-Key": long}, status: 400, field: "Idempotency-Key"},
		biCase{name: "create domain/Idempotency-Key too long", method: "POST", path: "/v1/admin/domains", who: "super", body: `{"name":"idem-long"}`,
			header: map[string]string{"Idempotency-Key": long}, status: 400, field: "Idempotency-Key"},
		// A refusal made with an Idempotency-Key is not remembered as an answer.
		biCase{name: "progress backwards with an Idempotency-Key", method: "POST", path: "/v1/tasks/{taskA}/progress", who: "svcA", body: `{"current_progress":1}`,
			header: map[string]string{"Idempotency-Key": "backwards-1"}, status: 409},
	)
	return out
}

// TestBadInput runs every refused request against one server and checks
// the problem answer and that nothing was written.
func TestBadInput(t *testing.T) {
	e := biSetup(t)
	var cases []biCase
	for _, ep := range biBodyEndpoints() {
		for _, c := range biBodyCases(ep) {
			if ep.unauthenticated {
				c.who = ""
			}
			cases = append(cases, c)
		}
	}
	cases = append(cases, biAuthCases()...)
	cases = append(cases, biAccessCases()...)
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.name] {
			t.Fatalf("duplicate case name %q", c.name)
		}
		seen[c.name] = true
	}
	t.Logf("%d cases", len(cases))

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := e.state(t)
			resp, b := e.send(t, c)
			checkProblem(t, resp, b, c.status, c.field)
			after := e.state(t)
			if after.applied != before.applied {
				t.Errorf("partial write: the store moved from %d to %d", before.applied, after.applied)
			}
			for p, v := range before.reads {
				if after.reads[p] != v {
					t.Errorf("partial write: GET %s changed:\n was %s\n now %s", p, v, after.reads[p])
				}
			}
			if t.Failed() && after.applied != before.applied {
				e.resetTasks(t) // the next cases need the fixture as it was
			}
		})
	}

	// Not refusals, but the edges of the refusals above: the server must
	// take them, or refuse them with a 4xx — never a 5xx.
	t.Run("body under 1 MiB that JSON-escapes large", func(t *testing.T) {
		// '<' is 1 byte in the body and 6 ("\u003c") in every stored
		// copy; a valid body under the limit must not become a 5xx.
		msg := strings.Repeat("<", 400<<10)
		for _, c := range []biCase{
			{method: "POST", path: "/v1/tasks", who: "svcA", body: `{"total_progress":3,"message":"` + msg + `"}`},
			{method: "POST", path: "/v1/tasks/{taskA}/progress", who: "svcA", body: `{"current_progress":6,"message":"` + msg + `"}`},
		} {
			before := e.state(t)
			resp, b := e.send(t, c)
			if resp.StatusCode >= 500 {
				t.Errorf("%s %s with a %d-byte body: %d %.300s", c.method, c.path, len(c.body), resp.StatusCode, b)
			} else if resp.StatusCode >= 400 {
				checkProblem(t, resp, b, resp.StatusCode, "")
				if after := e.state(t); after.applied != before.applied {
					t.Errorf("refused, but the store moved from %d to %d", before.applied, after.applied)
				}
			}
		}
		e.resetTasks(t)
	})
	t.Run("logout ignores its body and credentials", func(t *testing.T) {
		for _, c := range []biCase{
			{method: "POST", path: "/v1/logout", body: `garbage`},
			{method: "POST", path: "/v1/logout", auth: "Basic dXNlcjpwYXNz"},
			{method: "POST", path: "/v1/logout", header: map[string]string{"Cookie": api.CookieName + "=not-a-login"}},
		} {
			before := e.state(t)
			resp, b := e.send(t, c)
			if resp.StatusCode != http.StatusNoContent {
				t.Errorf("logout %+v: %d %s, want 204", c, resp.StatusCode, b)
			}
			if after := e.state(t); after.applied != before.applied {
				t.Errorf("logout without a login moved the store from %d to %d", before.applied, after.applied)
			}
		}
		// And a real logout ends the login.
		cookie := e.login(t, e.keys["userA"].Token)
		hdr := map[string]string{"Cookie": api.CookieName + "=" + cookie}
		resp, b := e.send(t, biCase{method: "POST", path: "/v1/logout", header: hdr})
		if resp.StatusCode != http.StatusNoContent {
			t.Errorf("logout of a login: %d %.300s, want 204", resp.StatusCode, b)
		}
		resp, b = e.send(t, biCase{method: "GET", path: "/v1/tasks/{taskA}", header: hdr})
		checkProblem(t, resp, b, http.StatusUnauthorized, "")
	})
}

// idemWrite sends one write with an optional Idempotency-Key.
func (e *biEnv) idemWrite(t *testing.T, method, path, who, key, body string) (*http.Response, []byte) {
	t.Helper()
	c := biCase{method: method, path: path, who: who, body: body}
	if key != "" {
		c.header = map[string]string{"Idempotency-Key": key}
	}
	return e.send(t, c)
}

func (e *biEnv) applied() uint64 { return e.s.API.Views().Applied() }

func wantStatus(t *testing.T, what string, resp *http.Response, b []byte, status int) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("%s: %d %.300s, want %d", what, resp.StatusCode, b, status)
	}
}

// TestIdempotencyKey: a retry with the same Idempotency-Key returns the
// first answer and appends nothing (SPEC §6); keys are per caller.
func TestIdempotencyKey(t *testing.T) {
	e := biSetup(t)
	newTask := func(t *testing.T) string {
		t.Helper()
		resp, b := e.idemWrite(t, "POST", "/v1/tasks", "svcA", "", `{"total_progress":10}`)
		wantStatus(t, "create task", resp, b, 201)
		var out struct {
			ID string `json:"task_id"`
		}
		if err := json.Unmarshal(b, &out); err != nil || out.ID == "" {
			t.Fatalf("create task answer %s: %v", b, err)
		}
		return out.ID
	}
	getTask := func(t *testing.T, id string) string {
		t.Helper()
		resp := e.s.Get(t, context.Background(), "/v1/tasks/"+id, e.s.Token, nil)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET task %s: %d %s", id, resp.StatusCode, b)
		}
		return string(b)
	}

	t.Run("create task twice", func(t *testing.T) {
		a0 := e.applied()
		r1, b1 := e.idemWrite(t, "POST", "/v1/tasks", "svcA", "create-1", `{"total_progress":10,"message":"m"}`)
		wantStatus(t, "first", r1, b1, 201)
		a1 := e.applied()
		if a1 != a0+1 {
			t.Fatalf("first create moved the store %d → %d, want one record", a0, a1)
		}
		r2, b2 := e.idemWrite(t, "POST", "/v1/tasks", "svcA", "create-1", `{"total_progress":10,"message":"m"}`)
		wantStatus(t, "retry", r2, b2, 201)
		if !bytes.Equal(b1, b2) {
			t.Fatalf("retry answered %s, first %s", b2, b1)
		}
		if a := e.applied(); a != a1 {
			t.Fatalf("retry moved the store %d → %d", a1, a)
		}
		var out struct {
			ID string `json:"task_id"`
		}
		_ = json.Unmarshal(b1, &out)
		if !strings.Contains(getTask(t, out.ID), `"status":"running"`) {
			t.Fatalf("task %s not running", out.ID)
		}
	})

	t.Run("progress retried after a later report", func(t *testing.T) {
		id := newTask(t)
		path := "/v1/tasks/" + id + "/progress"
		r1, first := e.idemWrite(t, "POST", path, "svcA", "p-3", `{"current_progress":3}`)
		wantStatus(t, "progress 3", r1, first, 200)
		r2, later := e.idemWrite(t, "POST", path, "svcA", "p-5", `{"current_progress":5,"message":"later"}`)
		wantStatus(t, "progress 5", r2, later, 200)
		state := getTask(t, id)
		a := e.applied()
		r3, again := e.idemWrite(t, "POST", path, "svcA", "p-3", `{"current_progress":3}`)
		wantStatus(t, "retry of progress 3", r3, again, 200)
		if !bytes.Equal(again, first) {
			t.Fatalf("retry answered %s, the first answer was %s", again, first)
		}
		r4, again5 := e.idemWrite(t, "POST", path, "svcA", "p-5", `{"current_progress":5,"message":"later"}`)
		wantStatus(t, "retry of progress 5", r4, again5, 200)
		if !bytes.Equal(again5, later) {
			t.Fatalf("retry answered %s, the first answer was %s", again5, later)
		}
		if got := e.applied(); got != a {
			t.Fatalf("retries moved the store %d → %d", a, got)
		}
		if got := getTask(t, id); got != state {
			t.Fatalf("retries changed the task:\n was %s\n now %s", state, got)
		}
	})

	t.Run("terminal report retried", func(t *testing.T) {
		id := newTask(t)
		path := "/v1/tasks/" + id + "/done"
		r1, first := e.idemWrite(t, "POST", path, "svcA", "done-1", `{"message":"ok"}`)
		wantStatus(t, "done", r1, first, 200)
		a := e.applied()
		r2, again := e.idemWrite(t, "POST", path, "svcA", "done-1", `{"message":"ok"}`)
		wantStatus(t, "retry of done", r2, again, 200)
		if !bytes.Equal(again, first) {
			t.Fatalf("retry answered %s, first %s", again, first)
		}
		r3, b3 := e.idemWrite(t, "POST", path, "svcA", "", `{"message":"ok"}`)
		checkProblem(t, r3, b3, 409, "")
		if got := e.applied(); got != a {
			t.Fatalf("retry and refusal moved the store %d → %d", a, got)
		}
	})

	t.Run("one key, two callers, two writes", func(t *testing.T) {
		a0 := e.applied()
		r1, b1 := e.idemWrite(t, "POST", "/v1/tasks", "svcA", "shared", `{}`)
		wantStatus(t, "svcA", r1, b1, 201)
		r2, b2 := e.idemWrite(t, "POST", "/v1/tasks", "svc2A", "shared", `{}`)
		wantStatus(t, "svc2A", r2, b2, 201)
		if bytes.Equal(b1, b2) {
			t.Fatalf("two callers with one key got the same task: %s", b1)
		}
		if a := e.applied(); a != a0+2 {
			t.Fatalf("store moved %d → %d, want two records", a0, a)
		}
		id := newTask(t)
		path := "/v1/tasks/" + id + "/progress"
		a1 := e.applied()
		r3, b3 := e.idemWrite(t, "POST", path, "svcA", "shared-p", `{"current_progress":1}`)
		wantStatus(t, "svcA progress", r3, b3, 200)
		r4, b4 := e.idemWrite(t, "POST", path, "adminA", "shared-p", `{"current_progress":2}`)
		wantStatus(t, "adminA progress", r4, b4, 200)
		if !strings.Contains(string(b4), `"current_progress":2`) {
			t.Fatalf("adminA's report was answered from svcA's: %s", b4)
		}
		if a := e.applied(); a != a1+2 {
			t.Fatalf("store moved %d → %d, want two records", a1, a)
		}
	})

	t.Run("a refusal is not remembered", func(t *testing.T) {
		id := newTask(t)
		path := "/v1/tasks/" + id + "/progress"
		r1, b1 := e.idemWrite(t, "POST", path, "svcA", "", `{"current_progress":4}`)
		wantStatus(t, "progress 4", r1, b1, 200)
		a := e.applied()
		for i := 0; i < 2; i++ {
			r, b := e.idemWrite(t, "POST", path, "svcA", "refused-1", `{"current_progress":2}`)
			checkProblem(t, r, b, 409, "")
		}
		if got := e.applied(); got != a {
			t.Fatalf("refusals moved the store %d → %d", a, got)
		}
		r2, b2 := e.idemWrite(t, "POST", path, "svcA", "refused-1", `{"current_progress":6}`)
		wantStatus(t, "valid report with the refused key", r2, b2, 200)
		if got := e.applied(); got != a+1 {
			t.Fatalf("store moved %d → %d, want one record", a, got)
		}
	})

	t.Run("admin writes retried", func(t *testing.T) {
		for _, w := range []struct{ what, method, path, who, body string }{
			{"create domain", "POST", "/v1/admin/domains", "super", `{"name":"idem-dom"}`},
			{"create group", "POST", "/v1/admin/domains/" + biDomA + "/groups", "adminA", `{"name":"idem-grp"}`},
			{"create key", "POST", "/v1/admin/keys", "adminA", `{"role":"service","domain":"` + biDomA + `"}`},
		} {
			a0 := e.applied()
			r1, b1 := e.idemWrite(t, w.method, w.path, w.who, "admin-"+w.what, w.body)
			wantStatus(t, w.what, r1, b1, 201)
			r2, b2 := e.idemWrite(t, w.method, w.path, w.who, "admin-"+w.what, w.body)
			wantStatus(t, w.what+" retry", r2, b2, 201)
			if w.what == "create key" {
				// Tokens are stored only as hashes: the retry gets the same
				// key without its token.
				var first, retry map[string]any
				_ = json.Unmarshal(b1, &first)
				_ = json.Unmarshal(b2, &retry)
				if first["token"] == nil || retry["token"] != nil || retry["accessKey"] != first["accessKey"] {
					t.Fatalf("create key retry answered %s, first %s", b2, b1)
				}
			} else if !bytes.Equal(b1, b2) {
				t.Fatalf("%s retry answered %s, first %s", w.what, b2, b1)
			}
			if a := e.applied(); a != a0+1 {
				t.Fatalf("%s: store moved %d → %d, want one record", w.what, a0, a)
			}
		}
		k := e.s.CreateKey(t, "user", biDomA, nil, "")
		a0 := e.applied()
		for i := 0; i < 2; i++ {
			r, b := e.idemWrite(t, "DELETE", "/v1/admin/keys/"+k.AccessKey, "adminA", "del-1", "")
			wantStatus(t, "delete key", r, b, 204)
		}
		if a := e.applied(); a != a0+1 {
			t.Fatalf("delete key: store moved %d → %d, want one record", a0, a)
		}
	})

	t.Run("login retried gives a working cookie", func(t *testing.T) {
		id := newTask(t)
		a0 := e.applied()
		var cookies []string
		for i := 0; i < 2; i++ {
			resp, b := e.idemWrite(t, "POST", "/v1/login", "svcA", "login-1", "")
			wantStatus(t, "login", resp, b, 204)
			for _, c := range resp.Cookies() {
				if c.Name == api.CookieName && c.Value != "" {
					cookies = append(cookies, c.Value)
				}
			}
		}
		// Each login is its own browser session: the Idempotency-Key is
		// ignored, so two logins are two records and two working cookies.
		if a := e.applied(); a != a0+2 {
			t.Errorf("two logins moved the store %d → %d, want two records", a0, a)
		}
		if len(cookies) != 2 {
			t.Fatalf("got %d cookies from two logins", len(cookies))
		}
		for i, c := range cookies {
			resp := e.s.Get(t, context.Background(), "/v1/tasks/"+id, "", map[string]string{"Cookie": api.CookieName + "=" + c})
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("cookie of login %d does not authorize a GET: %d %s", i+1, resp.StatusCode, b)
			}
		}
	})

	t.Run("key tokens are stored only as hashes", func(t *testing.T) {
		// The answer kept for Idempotency-Key replays must not hold the
		// token in clear (SPEC §7: tokens are stored only as hashes).
		r, b := e.idemWrite(t, "POST", "/v1/admin/keys", "super", "token-1", `{"role":"user","domain":"`+biDomA+`"}`)
		wantStatus(t, "create key", r, b, 201)
		var k testutil.Key
		if err := json.Unmarshal(b, &k); err != nil || k.Token == "" {
			t.Fatalf("create key answer %s: %v", b, err)
		}
		ctx := context.Background()
		for seq := uint64(1); seq <= e.applied(); seq++ {
			m, err := e.s.Store.Get(ctx, seq)
			if err != nil {
				continue // purged
			}
			raw, _ := json.Marshal(m.Record)
			for _, tok := range []string{k.Token, e.keys["svcA"].Token, e.keys["adminB"].Token} {
				if bytes.Contains(raw, []byte(tok)) {
					t.Errorf("store record %d (%s %s) holds a key's token in clear", seq, m.Subject, m.Record.Kind)
				}
			}
		}
	})
}

// FuzzTaskEndpoints posts arbitrary bodies (and Idempotency-Keys) to the
// task producer endpoints of one server: never a 5xx; every 4xx is a
// complete problem+json and appends nothing.
func FuzzTaskEndpoints(f *testing.F) {
	s := testutil.Start(f)
	ctx := context.Background()
	svc := s.CreateKey(f, "service", "default", nil, "")
	c := s.Client(svc.Token)
	shared, err := c.CreateTask(ctx, 0, nil, "")
	if err != nil {
		f.Fatal(err)
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	for _, seed := range []struct {
		target uint8
		idem   string
		body   string
	}{
		{0, "", `{}`}, {0, "", `{"total_progress":10,"message":"m"}`}, {0, "k1", `{"total_progress":10}`},
		{0, "", `{"ownerAccessKey":"` + svc.AccessKey + `"}`}, {0, "", `{"total_progress":-1}`}, {0, "", `null`},
		{1, "", `{"current_progress":1}`}, {1, "k1", `{"current_progress":2,"total_progress":5}`},
		{1, "", `{"current_progress":9223372036854775807}`}, {1, "", `{"current_progress":"1"}`},
		{2, "", `{"current_progress":60,"total_progress":100}`}, {2, "", `{"current_progress":40}`},
		{2, "", `{"current_progress":101}`}, {2, "k2", `{"current_progress":50,"total_progress":0}`},
		{1, "", `{"current_progress":1}{}`}, {2, "", `[]`}, {0, "", "\x00"}, {1, "", ""},
	} {
		f.Add(seed.target, seed.idem, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, target uint8, idem string, body []byte) {
		path := "/v1/tasks"
		switch target % 3 {
		case 1:
			path = "/v1/tasks/" + shared + "/progress"
		case 2: // a fresh task at 50/100, so progress rules are exercised
			id, err := c.CreateTask(ctx, 100, nil, "")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.TaskProgress(ctx, id, 50, -1, nil); err != nil {
				t.Fatal(err)
			}
			path = "/v1/tasks/" + id + "/progress"
		}
		req, err := http.NewRequest("POST", s.URL+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+svc.Token)
		if idem != "" && strings.IndexFunc(idem, func(r rune) bool { return r < 0x20 || r > 0x7e }) < 0 {
			req.Header.Set("Idempotency-Key", idem)
		}
		before := s.API.Views().Applied()
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case resp.StatusCode >= 500:
			t.Fatalf("POST %s %q: %d %s", path, body, resp.StatusCode, b)
		case resp.StatusCode >= 400:
			checkProblem(t, resp, b, resp.StatusCode, "")
			if after := s.API.Views().Applied(); after != before {
				t.Fatalf("POST %s %q: refused with %d but the store moved %d → %d", path, body, resp.StatusCode, before, after)
			}
		default:
			if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" || !json.Valid(b) {
				t.Fatalf("POST %s %q: %d with %q %q", path, body, resp.StatusCode, resp.Header.Get("Content-Type"), b)
			}
		}
	})
}
