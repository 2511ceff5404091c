package store

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/herald-sse/herald/lifecycle"
)

// recordSamples are records as Commit writes them, plus shapes only the
// fallback decodes.
var recordSamples = []string{
	`{"kind":"session","domain":"d","owner":"AK1","group":"g","entity":"s-1","snapshot":{"sessionId":"s-1","state":"started","reason":null,"n":-1.5e+3,"ok":true,"list":[1,"a",{}],"esc":"a\"\\\u00e9\n"},"events":[{"name":"session_started","data":{"at":"2025-01-01T12:00:00Z"}}]}`,
	`{"kind":"job","domain":"o","entity":"j","snapshot":{},"events":[{"name":"start","data":{}},{"name":"x","data":[]}],"commands":[{"node":"n1","type":"run","job_id":"j"},{"node":"n2","type":"abort","job_id":"j"}],"answer":{"id":"1-2"}}`,
	`{"kind":"key","snapshot":"x","deleted":true}`,
	`{"kind":"key","deleted":false}`,
	`{"kind":"task","events":[]}`,
	`{"kind":"task","commands":[],"events":[{}]}`,
	`{}`,
	` { "kind" : "task" , "events" : [ { "name" : "a" , "data" : 1 } ] } `,
	`{"kind":"tâsk"}`,
	`{"kind":"t\u0061sk"}`,
	`{"Kind":"task"}`,
	`{"kind":"task","kind":"job"}`,
	`{"kind":"task","snapshot":null}`,
	`{"kind":"task","events":null}`,
	`{"kind":"task","events":[null]}`,
	`{"kind":"task","extra":1}`,
	`{"kind":"task","domain":"\xff"}`,
	`{"kind":"task","snapshot":"\xff"}`,
	`{"kind":"task","snapshot":01}`,
	`{"kind":"task","snapshot":1.}`,
	`{"kind":"task","snapshot":[1,]}`,
	`{"kind":"task","snapshot":{"a":1,}}`,
	`{"kind":"task","snapshot":"\x"}`,
	`{"kind":"task","snapshot":"\u12"}`,
	`{"kind":"task"} x`,
	`{"kind":"task"`,
	`{"kind":1}`,
	`{"deleted":"true"}`,
	`[]`,
	``,
}

// checkDecode compares decodeRecord with json.Unmarshal: same error-ness,
// same record; and the fast path never accepts what json.Unmarshal refuses.
func checkDecode(t *testing.T, data []byte) {
	t.Helper()
	var want Record
	wantErr := json.Unmarshal(data, &want)
	var fast Record
	if fastDecodeRecord(append([]byte(nil), data...), &fast) {
		if wantErr != nil {
			t.Fatalf("fast path accepted %q; encoding/json: %v", data, wantErr)
		}
		if !reflect.DeepEqual(fast, want) {
			t.Fatalf("fast path on %q:\n got %#v\nwant %#v", data, fast, want)
		}
	}
	var got Record
	err := decodeRecord(append([]byte(nil), data...), &got)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%q: error %v, encoding/json %v", data, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\n got %#v\nwant %#v", data, got, want)
	}
}

func TestDecodeRecord(t *testing.T) {
	for _, s := range recordSamples {
		checkDecode(t, []byte(s))
	}
	// What Commit writes always takes the fast path.
	for _, r := range []Record{
		benchRecord("e1"),
		sessionBenchRecord("s1", 7),
		{Kind: "job", Domain: "o", Entity: "j", Snapshot: json.RawMessage(`{"a":[1,2]}`),
			Events:   []lifecycle.Event{{Name: "a", Data: json.RawMessage(`{}`)}, {Name: "b"}},
			Commands: []lifecycle.Command{{Node: "n", Type: "run", JobID: "j"}}, Answer: json.RawMessage(`{"id":"x"}`)},
		{Kind: "key", Deleted: true},
		{},
	} {
		data, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var got Record
		if !fastDecodeRecord(data, &got) {
			t.Fatalf("fast path refused %s", data)
		}
		checkDecode(t, data)
	}
}

func FuzzDecodeRecord(f *testing.F) {
	for _, s := range recordSamples {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, data)
	})
}

// BenchmarkDecodeRecord: a session record as Commit writes it, with
// decodeRecord and with encoding/json.
func BenchmarkDecodeRecord(b *testing.B) {
	data, err := json.Marshal(sessionBenchRecord("bench-1", 1))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for range b.N {
			var r Record
			if err := decodeRecord(data, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for range b.N {
			var r Record
			if err := json.Unmarshal(data, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
