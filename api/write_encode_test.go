package api

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/herald-sse/herald/lifecycle"
)

// mapRoundTrip is how final adds the id to any other body.
func mapRoundTrip(body []byte, id string) []byte {
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		m = map[string]any{}
	}
	m["id"] = id
	b, _ := json.Marshal(m)
	return b
}

// FuzzInsertID: whenever insertID takes a body, it writes what the map
// round trip writes.
func FuzzInsertID(f *testing.F) {
	for _, s := range []string{`{}`, `{"state":"started"}`, `{"state":"a","zzz":"b"}`, `{"state":"a","b":"c"}`,
		`{"a":"b"}`, `{"id":"x"}`, `{"state":1}`, `{"state":"a<b"}`, `{"state":"x"} `, `{"state":"x",}`, `{"state":"é"}`} {
		f.Add([]byte(s), "abc-12")
	}
	f.Fuzz(func(t *testing.T, body []byte, id string) {
		got, ok := insertID(body, id)
		if !ok {
			return
		}
		if want := mapRoundTrip(body, id); !bytes.Equal(got, want) {
			t.Fatalf("insertID(%q, %q) = %s, want %s", body, id, got, want)
		}
	})
}

func TestAnswerEncoding(t *testing.T) {
	for _, st := range []lifecycle.SessionState{lifecycle.SessionStarted, "a<b>&\"é"} {
		want, _ := json.Marshal(sessionAnswer{State: st})
		got, _ := marshalBody(sessionAnswer{State: st})
		if !bytes.Equal(got, want) {
			t.Errorf("sessionAnswer: %s, want %s", got, want)
		}
		if st == lifecycle.SessionStarted {
			if b, ok := insertID(got, "e-5"); !ok || string(b) != `{"id":"e-5","state":"started"}` {
				t.Errorf("insertID: %s %v", b, ok)
			}
		}
	}
	for _, ans := range []answer{
		{Status: 201, Body: json.RawMessage(`{"state":"started"}`), WithID: true},
		{Status: 200, Body: json.RawMessage(`{"task_id":"x","message":"a \u0026 b"}`)},
		{Status: 204},
	} {
		want, _ := json.Marshal(ans)
		if got := ans.appendStored(nil); !bytes.Equal(got, want) {
			t.Errorf("appendStored: %s, want %s", got, want)
		}
	}
}
