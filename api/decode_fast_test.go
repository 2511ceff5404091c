package api

import (
	"reflect"
	"testing"
)

var flatSeeds = []string{
	"", "{}", " { } ", "{}x", "{} {}", "null", `""`, "[]",
	`{"sessionId":"s1","ownerAccessKey":"AK1","group":"g","event":"session_started","reason":"r","result":null}`,
	`{"sessionId":"s1","ownerAccessKey":"AK1","group":"g","event":"session_terminated","result":"SUCCESS"}`,
	"{\n \"sessionId\" : \"s\" ,\t\"event\":\"e\"\r\n}\n",
	`{"sessionId":"a","sessionId":"b"}`, `{"reason":"x","reason":null}`,
	`{"SessionId":"s"}`, `{"sessionid":"s"}`, `{"nope":"s"}`, `{"sessionId":1}`, `{"sessionId":true}`,
	`{"sessionId":{}}`, `{"sessionId":["a"]}`, `{"sessionId":"a\"b"}`, `{"sessionId":"\u00e9"}`,
	"{\"sessionId\":\"é\"}", "{\"sessionId\":\"\xff\"}", "{\"sessionId\":\"a\tb\"}", `{"sessionId":"a",}`,
	`{"sessionId":"a" "event":"b"}`, `{"sessionId":"a"`, `{"sessionId":nul}`, `{"sessionId":nullx}`,
	`{"sessionId"}`, `{,}`, `{"sessionId":"a"}}`, `{"sessionId":"a"}]`, `{"reason":""}`,
}

// FuzzDecodeFlatStrings: whenever the reflection-free decoder accepts a
// body, decodeJSON accepts it too and decodes exactly the same request.
func FuzzDecodeFlatStrings(f *testing.F) {
	for _, s := range flatSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var fast, slow sessionReportReq
		if !decodeFlatStrings(body, &fast) {
			return
		}
		if err := decodeJSON(body, &slow); err != nil {
			t.Fatalf("fast path accepted %q; decodeJSON refused it: %v", body, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: fast %+v, decodeJSON %+v", body, show(fast), show(slow))
		}
	})
}

// TestDecodeFlatRequest: the fast path takes the simple bodies, and every
// body decodes (or fails) exactly as decodeJSON alone decodes it.
func TestDecodeFlatRequest(t *testing.T) {
	accepted := 0
	for _, s := range flatSeeds {
		var fast, slow sessionReportReq
		if decodeFlatStrings([]byte(s), &fast) {
			accepted++
		}
		fast = sessionReportReq{}
		ferr := decodeFlatRequest([]byte(s), &fast)
		serr := decodeJSON([]byte(s), &slow)
		if (ferr == nil) != (serr == nil) || (ferr != nil && ferr.Error() != serr.Error()) {
			t.Errorf("%q: decodeFlatRequest %v, decodeJSON %v", s, ferr, serr)
		}
		if serr == nil && !reflect.DeepEqual(fast, slow) {
			t.Errorf("%q: %+v, want %+v", s, show(fast), show(slow))
		}
	}
	if accepted < 6 {
		t.Errorf("the fast path took only %d of the simple bodies", accepted)
	}
}

func show(q sessionReportReq) map[string]any {
	out := map[string]any{}
	for name, p := range map[string]*string{"sessionId": q.SessionID, "ownerAccessKey": q.OwnerAccessKey, "group": q.Group,
		"event": q.Event, "reason": q.Reason, "result": q.Result} {
		if p != nil {
			out[name] = *p
		}
	}
	return out
}
