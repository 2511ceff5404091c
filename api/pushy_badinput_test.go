package api_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/herald-sse/herald/client"
	"github.com/herald-sse/herald/internal/testutil"
)

// TestPushyBadInput: every refused push-jobs request gets the SPEC's status
// with a problem+json body whose field names the JSON key at fault, and
// writes nothing (the views' applied sequence does not move).
func TestPushyBadInput(t *testing.T) {
	s := pjServer(t)
	ctx := context.Background()
	svc := s.CreateKey(t, "service", "default", nil, "").Token
	user := s.CreateKey(t, "user", "default", nil, "").Token
	n1 := s.CreateKey(t, "node", "default", nil, "n1").Token
	n2 := s.CreateKey(t, "node", "default", nil, "n2").Token
	// A job of n1 alone: n1 is offline, so it ends at once (quorum_failed).
	// No node runs, so nothing else writes during the table.
	done, err := s.Client(svc).StartJob(ctx, "default", client.JobSpec{Command: "x", Nodes: []string{"n1"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	const jobs = "/organizations/default/pushy/jobs"
	const unknown = "0123456789abcdef0123456789abcdef"
	raw := func(n int) string { return "raw:" + strings.Repeat("x", n) }
	b64 := func(n int) string { return "base64:" + base64.StdEncoding.EncodeToString(make([]byte, n)) }
	job := func(extra string) string { return `{"command":"chef-client","nodes":["n1","n2"]` + extra + `}` }
	msgs := "/organizations/default/pushy/nodes/n2/messages"
	hb := "/organizations/default/pushy/nodes/n2/heartbeat"
	cases := []struct {
		name, method, path, token, body string
		header                          map[string]string
		status                          int
		field                           string
	}{
		{"unknown key", "POST", jobs, svc, job(`,"bogus":1`), nil, 400, "bogus"},
		{"misspelled key", "POST", jobs, svc, job(`,"runTimeout":5`), nil, 400, "runTimeout"},
		{"no command", "POST", jobs, svc, `{"nodes":["n1"]}`, nil, 400, "command"},
		{"blank command", "POST", jobs, svc, `{"command":"  ","nodes":["n1"]}`, nil, 400, "command"},
		{"no nodes", "POST", jobs, svc, `{"command":"x"}`, nil, 400, "nodes"},
		{"empty nodes", "POST", jobs, svc, `{"command":"x","nodes":[]}`, nil, 400, "nodes"},
		{"nodes not an array", "POST", jobs, svc, `{"command":"x","nodes":"n1"}`, nil, 400, "nodes"},
		{"bad node name", "POST", jobs, svc, `{"command":"x","nodes":["a b"]}`, nil, 400, "nodes"},
		{"node twice", "POST", jobs, svc, `{"command":"x","nodes":["a","a"]}`, nil, 400, "nodes"},
		{"quorum above nodes", "POST", jobs, svc, job(`,"quorum":3`), nil, 400, "quorum"},
		{"quorum zero", "POST", jobs, svc, job(`,"quorum":0`), nil, 400, "quorum"},
		{"quorum negative", "POST", jobs, svc, job(`,"quorum":-1`), nil, 400, "quorum"},
		{"quorum not an integer", "POST", jobs, svc, job(`,"quorum":1.5`), nil, 400, "quorum"},
		{"run_timeout zero", "POST", jobs, svc, job(`,"run_timeout":0`), nil, 400, "run_timeout"},
		{"run_timeout a string", "POST", jobs, svc, job(`,"run_timeout":"60"`), nil, 400, "run_timeout"},
		{"env not strings", "POST", jobs, svc, job(`,"env":{"A":1}`), nil, 400, "env"},
		{"env bad name", "POST", jobs, svc, job(`,"env":{"A=B":"1"}`), nil, 400, "env"},
		{"env name twice", "POST", jobs, svc, job(`,"env":{"A":"1","B":"2","A":"3"}`), nil, 400, "env"},
		{"env name twice, same value", "POST", jobs, svc, job(`,"env":{"A":"1","A":"1"}`), nil, 400, "env"},
		{"env an array", "POST", jobs, svc, job(`,"env":["A=1"]`), nil, 400, "env"},
		{"capture_output not bool", "POST", jobs, svc, job(`,"capture_output":"yes"`), nil, 400, "capture_output"},
		{"file bad prefix", "POST", jobs, svc, job(`,"file":"zip:abc"`), nil, 400, "file"},
		{"file bad base64", "POST", jobs, svc, job(`,"file":"base64:***"`), nil, 400, "file"},
		{"file raw over 100000", "POST", jobs, svc, job(`,"file":"` + raw(100001) + `"`), nil, 400, "file"},
		{"file base64 over 100000", "POST", jobs, svc, job(`,"file":"` + b64(100001) + `"`), nil, 400, "file"},
		{"body over 1 MiB", "POST", jobs, svc, job(`,"dir":"` + strings.Repeat("d", 1<<20) + `"`), nil, 413, ""},
		{"malformed JSON", "POST", jobs, svc, `{"command":`, nil, 400, ""},
		{"not an object", "POST", jobs, svc, `[1]`, nil, 400, ""},
		{"user key starts a job", "POST", jobs, user, job(""), nil, 403, ""},
		{"node key starts a job", "POST", jobs, n1, job(""), nil, 403, ""},
		{"no credentials", "POST", jobs, "", job(""), nil, 401, ""},
		{"list limit 0", "GET", jobs + "?limit=0", svc, "", nil, 400, "limit"},
		{"list limit 501", "GET", jobs + "?limit=501", svc, "", nil, 400, "limit"},
		{"list before malformed", "GET", jobs + "?before=xyz", svc, "", nil, 400, "before"},
		{"list before unknown", "GET", jobs + "?before=" + unknown, svc, "", nil, 400, "before"},
		{"unknown job", "GET", jobs + "/" + unknown, svc, "", nil, 404, ""},
		{"malformed job id", "GET", jobs + "/XYZ", svc, "", nil, 404, ""},
		{"abort unknown job", "POST", jobs + "/" + unknown + "/abort", svc, "", nil, 404, ""},
		{"abort finished job", "POST", jobs + "/" + done + "/abort", svc, "", nil, 409, ""},
		{"abort by a user", "POST", jobs + "/" + done + "/abort", user, "", nil, 403, ""},
		{"abort with unknown key", "POST", jobs + "/" + done + "/abort", svc, `{"why":"x"}`, nil, 400, "why"},
		{"output without capture", "GET", jobs + "/" + done + "/output/n1/stdout", svc, "", nil, 404, ""},
		{"output of a stranger", "GET", jobs + "/" + done + "/output/n2/stdout", svc, "", nil, 404, ""},
		{"output bad stream", "GET", jobs + "/" + done + "/output/n1/stdin", svc, "", nil, 404, ""},
		{"job feed unknown job", "GET", jobFeedPath("default", unknown), svc, "", nil, 404, ""},
		{"job feed wants JSON", "GET", jobFeedPath("default", done), svc, "", map[string]string{"Accept": "application/json"}, 406, ""},
		{"org feed wants JSON", "GET", orgFeedPath("default"), svc, "", map[string]string{"Accept": "application/json"}, 406, ""},
		{"commands want JSON", "GET", "/organizations/default/pushy/nodes/n2/commands", n2, "", map[string]string{"Accept": "application/json"}, 406, ""},
		{"node_states unknown node", "GET", "/organizations/default/pushy/node_states/ghost", svc, "", nil, 404, ""},
		{"message for a job the node is not part of", "POST", msgs, n2, `{"type":"ack_commit","job_id":"` + done + `"}`, nil, 404, ""},
		{"message for an unknown job", "POST", msgs, n2, `{"type":"ack_commit","job_id":"` + unknown + `"}`, nil, 404, ""},
		{"message malformed job id", "POST", msgs, n2, `{"type":"ack_commit","job_id":"j1"}`, nil, 400, "job_id"},
		{"message without job id", "POST", msgs, n2, `{"type":"ack_commit"}`, nil, 400, "job_id"},
		{"message bad type", "POST", msgs, n2, `{"type":"done","job_id":"` + done + `"}`, nil, 400, "type"},
		{"message without type", "POST", msgs, n2, `{"job_id":"` + done + `"}`, nil, 400, "type"},
		{"message unknown key", "POST", msgs, n2, `{"type":"ack_commit","job_id":"` + done + `","exit":0}`, nil, 400, "exit"},
		{"message body over 1 MiB", "POST", msgs, n2, `{"type":"succeeded","job_id":"` + done + `","stdout":"` + strings.Repeat("o", 1<<20) + `"}`, nil, 413, ""},
		{"heartbeat without incarnation", "POST", hb, n2, `{}`, nil, 400, "incarnation"},
		{"heartbeat bad incarnation", "POST", hb, n2, `{"incarnation":"a\u0001b"}`, nil, 400, "incarnation"},
		{"heartbeat bad job id", "POST", hb, n2, `{"incarnation":"i","job_id":"nope"}`, nil, 400, "job_id"},
		{"heartbeat unknown key", "POST", hb, n2, `{"incarnation":"i","load":1}`, nil, 400, "load"},
	}
	before := s.API.Views().Applied()
	for _, c := range cases {
		resp := pjDo(t, s, c.method, c.path, c.token, c.body, c.header)
		p := testutil.Problem(t, resp)
		if resp.StatusCode != c.status || p.Status != c.status || p.Field != c.field || p.Type == "" || p.Title == "" || p.Detail == "" {
			t.Errorf("%s: %d %+v, want %d field %q", c.name, resp.StatusCode, p, c.status, c.field)
		}
		if after := s.API.Views().Applied(); after != before {
			t.Fatalf("%s: wrote %d records", c.name, after-before)
		}
	}
}
