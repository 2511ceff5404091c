package api

import (
	"bytes"
	"encoding/json"

	"github.com/herald-sse/herald"
)

// jobEnv is a job's env (name → value) as POST /pushy/jobs takes it: a
// JSON object of strings whose names are all different. encoding/json
// keeps the last of duplicate names silently; a job's environment must
// not depend on which one a sender's library put last, so a duplicate is
// a 400 naming env.
type jobEnv map[string]string

// UnmarshalJSON decodes an object of strings, refusing duplicate names.
func (e *jobEnv) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		*e = nil
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return herald.FieldErrorf("env", "must be an object of strings")
	}
	out := jobEnv{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return herald.FieldErrorf("env", "malformed: %v", err)
		}
		name := t.(string) // object keys are strings
		var v any
		if err := dec.Decode(&v); err != nil {
			return herald.FieldErrorf("env", "malformed: %v", err)
		}
		s, ok := v.(string)
		if !ok {
			return herald.FieldErrorf("env", "must be an object of strings; %q is not a string", truncate(name, 80))
		}
		if _, dup := out[name]; dup {
			return herald.FieldErrorf("env", "names %q twice; each variable once", truncate(name, 80))
		}
		out[name] = s
	}
	*e = out
	return nil
}
