package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/herald-sse/herald"
)

// decodeTargets are the request bodies the handlers decode with decodeJSON.
var decodeTargets = []struct {
	name string
	new  func() any
}{
	{"createTaskReq", func() any { return new(createTaskReq) }},
	{"progressReq", func() any { return new(progressReq) }},
	{"finishReq", func() any { return new(finishReq) }},
	{"nameReq", func() any { return new(nameReq) }},
	{"createKeyReq", func() any { return new(createKeyReq) }},
	{"loginReq", func() any { return new(loginReq) }},
}

// jsonFields lists the JSON member names of a request struct.
func jsonFields(v any) []string {
	t := reflect.TypeOf(v).Elem()
	out := make([]string, 0, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		out = append(out, name)
	}
	return out
}

// bodyKeys returns the member names of the body's first JSON value when it
// is an object.
func bodyKeys(body []byte) map[string]bool {
	var m map[string]json.RawMessage
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&m); err != nil {
		return nil
	}
	keys := make(map[string]bool, len(m))
	for k := range m {
		keys[k] = true
	}
	return keys
}

// FuzzDecodeJSON: decodeJSON never panics on any body; it accepts only
// valid JSON (or a blank body); every refusal is a *herald.Error coded
// EInvalid (or ETooLarge) with a detail, and a field it names is one the
// body or the request type really has.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		"", " \n\t", "{}", "null", "true", "0", `""`, "[]", "[{}]", "{}{}", "{} x", "{}]", "{}}", "{",
		`{"total_progress":5,"message":"m","ownerAccessKey":"HKABC"}`,
		`{"total_progress":"5"}`, `{"total_progress":1.5}`, `{"total_progress":9223372036854775808}`,
		`{"total_progress":-9223372036854775808}`, `{"total_progress":1e3}`, `{"total_progress":null}`,
		`{"current_progress":3,"total_progress":10,"message":null}`, `{"current_progress":[3]}`,
		`{"message":{"a":1}}`, `{"message":"\u0000\ud800"}`, "{\"message\":\"\xff\xfe\"}",
		`{"name":"acme"}`, `{"name":5}`, `{"NAME":"x"}`, `{"name":"a","name":"b"}`,
		`{"role":"node","domain":"d","node":"n1","groups":["g1","g2"]}`, `{"groups":[1]}`, `{"groups":{}}`,
		`{"groups":[null]}`, `{"token":"hrld_x"}`, `{"token":5}`,
		`{"bogus":1}`, `{"a\"b":1}`, `{"\u00e9":1}`, `{"":1}`, `{"x":{"y":[1,2,{"z":null}]}}`,
		"\ufeff{}", `{'a':1}`, `{"message":"x",}`, `{"message":"x"` + strings.Repeat(" ", 100),
		strings.Repeat("[", 10001), strings.Repeat(`{"a":`, 5000),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, target := range decodeTargets {
			v := target.new()
			err := decodeJSON(body, v)
			if err == nil {
				if len(bytes.TrimSpace(body)) > 0 && !json.Valid(body) {
					t.Fatalf("%s: accepted invalid JSON %q", target.name, body)
				}
				continue
			}
			var he *herald.Error
			if !errors.As(err, &he) {
				t.Fatalf("%s: %q: error %T %v is not a *herald.Error", target.name, body, err, err)
			}
			if he.Code != herald.EInvalid && he.Code != herald.ETooLarge {
				t.Fatalf("%s: %q: code %d, want EInvalid or ETooLarge (%v)", target.name, body, he.Code, err)
			}
			if strings.TrimSpace(he.Detail) == "" {
				t.Fatalf("%s: %q: empty detail", target.name, body)
			}
			if he.Field == "" {
				continue
			}
			known := false
			for _, name := range jsonFields(v) {
				// encoding/json matches member names without regard to case.
				if strings.EqualFold(he.Field, name) {
					known = true
				}
			}
			if !known && !bodyKeys(body)[he.Field] {
				t.Fatalf("%s: %q: the error names field %q, which is neither a field of the request nor a key of the body (%v)",
					target.name, body, he.Field, err)
			}
		}
	})
}
