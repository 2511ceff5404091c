package api

import (
	"errors"
	"strings"
	"testing"

	"github.com/herald-sse/herald"
)

// FuzzPushyDecode: the push-jobs request bodies — a job, a node message, a
// heartbeat — never panic the decoder or the checks after it; every
// refusal is an EInvalid or ETooLarge *herald.Error with a detail, and a
// field it names is a key of the request or of the body.
func FuzzPushyDecode(f *testing.F) {
	for _, s := range []string{
		"", "{}", "null", "[]", `{"command":"x","nodes":["a","b"],"quorum":2,"run_timeout":10}`,
		`{"command":"x","nodes":[]}`, `{"command":"x","nodes":["a"],"quorum":0}`, `{"command":"x","nodes":["a"],"quorum":-5}`,
		`{"command":"x","nodes":["a"],"run_timeout":99999999999}`, `{"command":"x","nodes":["a"],"file":"base64:!!"}`,
		`{"command":"x","nodes":["a"],"file":"raw:abc","env":{"A":"1"},"user":"u","dir":"/","capture_output":true}`,
		`{"command":"x","nodes":["a","a"]}`, `{"command":"x","nodes":[null]}`, `{"command":"x","nodes":["a"],"env":{"":"x"}}`,
		`{"type":"ack_commit","job_id":"0123456789abcdef0123456789abcdef","stdout":"o","stderr":"e"}`,
		`{"type":5}`, `{"incarnation":"i","job_id":"x"}`, `{"incarnation":"` + strings.Repeat("i", 200) + `"}`,
		`{"bogus":1}`, `{"a\"b":1}`, "{\"command\":\"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		check := func(name string, err error, fields ...string) {
			if err == nil {
				return
			}
			var he *herald.Error
			if !errors.As(err, &he) || (he.Code != herald.EInvalid && he.Code != herald.ETooLarge) || strings.TrimSpace(he.Detail) == "" {
				t.Fatalf("%s: %q: %T %v", name, body, err, err)
			}
			if he.Field == "" || bodyKeys(body)[he.Field] {
				return
			}
			for _, f := range fields {
				if strings.EqualFold(f, he.Field) {
					return
				}
			}
			t.Fatalf("%s: %q: field %q is not a key of the request or the body", name, body, he.Field)
		}
		var job jobRequest
		err := decodeJSON(body, &job)
		if err == nil {
			_, err = job.spec("AK")
		}
		check("job", err, jsonFields(&job)...)
		var hb heartbeatReq
		err = decodeJSON(body, &hb)
		if err == nil {
			err = checkHeartbeat(&hb)
		}
		check("heartbeat", err, jsonFields(&hb)...)
		var msg nodeMessageReq
		check("message", decodeJSON(body, &msg), jsonFields(&msg)...)
	})
}
