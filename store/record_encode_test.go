package store

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/herald-sse/herald/lifecycle"
)

var encodeCases = []Record{
	{Kind: "session"},
	{Kind: "session", Domain: "d", Owner: "AK1", Group: "g", Entity: "s1",
		Snapshot: json.RawMessage(`{"sessionId":"s1","reason":null,"createdAt":"2025-01-01T00:00:00.000001Z"}`),
		Events:   []lifecycle.Event{{Name: "session_started", Data: json.RawMessage(`{"sessionId":"s1","reason":"a \"quoted\" b\\"}`)}},
		Answer:   json.RawMessage(`{"status":201,"body":{"state":"started"},"withId":true}`)},
	{Kind: "task", Snapshot: json.RawMessage("{ \"a\" : [1, 2] ,\n\"b\":\"x y\"}"),
		Events: []lifecycle.Event{{Name: "n", Data: json.RawMessage(`{"m":"a && <b>"}`)}, {Name: "nil data"}}},
	{Kind: "k<&>", Domain: "d\u2028", Owner: "é", Group: "\xff", Entity: "a\tb\"c\\",
		Events: []lifecycle.Event{{Name: "é\u2029", Data: json.RawMessage("{\"a\":\"\u2028 é\"}")}}},
	{Kind: "job", Commands: []lifecycle.Command{{Node: "n1", Type: "commit", JobID: "j"}}, Deleted: true},
	{Kind: "key", Snapshot: json.RawMessage(`"scalar"`), Answer: json.RawMessage(`12`)},
	{Kind: "x", Snapshot: json.RawMessage(`[{"a":{}},[],"\u003c"]`)},
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	for i, r := range encodeCases {
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.AppendJSON(nil)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("case %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

func TestAppendJSONRefusesInvalidRaw(t *testing.T) {
	for _, raw := range []string{`{"a":`, `{"a" 1}`, "{\"a\":\"\n\"}", `}`} {
		r := Record{Kind: "x", Snapshot: json.RawMessage(raw)}
		if _, err := r.AppendJSON(nil); err == nil {
			t.Errorf("snapshot %q: no error", raw)
		}
	}
}

// FuzzAppendJSON: for any strings and any valid raw JSON, AppendJSON
// writes the bytes json.Marshal writes.
func FuzzAppendJSON(f *testing.F) {
	f.Add("session", "d", "AK", "g", "s1", `{"a":"b c"}`, "ev", `{"x":[1,{"y":null}]}`, `{"status":201}`)
	f.Add("k<", "\u2028", "é", "\xff", "a\"b", "{ \"a\" :1}", "\n", `"a&b"`, `[ ]`)
	f.Fuzz(func(t *testing.T, kind, domain, owner, group, entity, snap, ev, data, ans string) {
		r := Record{Kind: kind, Domain: domain, Owner: owner, Group: group, Entity: entity}
		if json.Valid([]byte(snap)) {
			r.Snapshot = json.RawMessage(snap)
		}
		if json.Valid([]byte(data)) {
			r.Events = []lifecycle.Event{{Name: ev, Data: json.RawMessage(data)}}
		}
		if json.Valid([]byte(ans)) {
			r.Answer = json.RawMessage(ans)
		}
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("\n got %s\nwant %s", got, want)
		}
	})
}

func TestParsePubAck(t *testing.T) {
	for _, c := range []struct {
		in      string
		ack     Ack
		errCode int // APIError err_code, -1: a decode error
	}{
		{`{"stream":"HERALD","seq":42}`, Ack{Seq: 42}, 0},
		{`{"stream":"HERALD","seq":7,"duplicate":true}`, Ack{Seq: 7, Duplicate: true}, 0},
		{`{"stream":"HERALD","domain":"x","seq":9}`, Ack{Seq: 9}, 0},
		{`{"stream":"HERALD", "seq":10}`, Ack{Seq: 10}, 0},
		{`{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 3"},"stream":"HERALD","seq":0}`, Ack{}, 10071},
		{`{"stream":"HERALD","seq":18446744073709551616}`, Ack{}, -1},
		{`{"seq":1}`, Ack{}, -1},
		{`nope`, Ack{}, -1},
	} {
		ack, apiErr, err := parsePubAck([]byte(c.in))
		switch {
		case c.errCode > 0:
			if apiErr == nil || int(apiErr.ErrorCode) != c.errCode {
				t.Errorf("%s: api error %v, want code %d", c.in, apiErr, c.errCode)
			}
		case c.errCode < 0:
			if err == nil {
				t.Errorf("%s: no error", c.in)
			}
		default:
			if err != nil || apiErr != nil || ack != c.ack {
				t.Errorf("%s: %+v %v %v, want %+v", c.in, ack, apiErr, err, c.ack)
			}
		}
	}
}
