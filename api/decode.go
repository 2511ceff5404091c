package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/herald-sse/herald"
)

// MaxBody is the largest request body herald reads (SPEC §6).
const MaxBody = 1 << 20

// readBody reads at most MaxBody bytes; more is ETooLarge.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		return nil, herald.Errorf(herald.EInvalid, "reading the request body: %v", err)
	}
	if len(b) > MaxBody {
		return nil, herald.Errorf(herald.ETooLarge, "request body is over %d bytes", MaxBody)
	}
	return b, nil
}

// decodeJSON decodes body into v strictly: one JSON object, no unknown
// fields, every type right. An empty body is an empty object. Errors name
// the field at fault.
func decodeJSON(body []byte, v any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		body = []byte("{}")
	} else if trimmed[0] != '{' {
		if err := json.Unmarshal(trimmed, new(any)); err != nil {
			return jsonError(err)
		}
		return herald.Errorf(herald.EInvalid, "the body must be a JSON object")
	}
	if err := checkKeys(body, v); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return herald.Errorf(herald.EInvalid, "the body must be one JSON object; found data after it")
	}
	if _, err := dec.Token(); err != io.EOF {
		return herald.Errorf(herald.EInvalid, "the body must be one JSON object; found data after it")
	}
	return nil
}

// checkKeys refuses members that are not, exactly, a json name of v's
// fields: encoding/json matches names case-insensitively, herald does not.
func checkKeys(body []byte, v any) error {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		return nil // the decoder reports the syntax or type error itself
	}
	known := jsonNames(reflect.TypeOf(v))
	for name := range members {
		if !known[name] {
			return herald.FieldErrorf(name, "is not a known field")
		}
	}
	return nil
}

var namesCache sync.Map // reflect.Type → map[string]bool

func jsonNames(t reflect.Type) map[string]bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if m, ok := namesCache.Load(t); ok {
		return m.(map[string]bool)
	}
	m := map[string]bool{}
	if t.Kind() == reflect.Struct {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			m[name] = true
		}
	}
	namesCache.Store(t, m)
	return m
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var he *herald.Error
	switch {
	case errors.As(err, &he): // from a field's own UnmarshalJSON (jobEnv)
		return he
	case errors.As(err, &syn):
		return herald.Errorf(herald.EInvalid, "malformed JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return herald.Errorf(herald.EInvalid, "the body must be a JSON object, not %s", typ.Value)
		}
		return herald.FieldErrorf(field, "must be %s, not %s", jsonTypeName(typ.Type.String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return herald.Errorf(herald.EInvalid, "malformed JSON: unexpected end of the body")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		quoted := strings.TrimPrefix(err.Error(), "json: unknown field ")
		name, uerr := strconv.Unquote(quoted) // encoding/json quotes it with %q
		if uerr != nil {
			name = strings.Trim(quoted, `"`)
		}
		return herald.FieldErrorf(name, "is not a known field")
	}
	return herald.Errorf(herald.EInvalid, "malformed JSON: %v", err)
}

func jsonTypeName(goType string) string {
	switch {
	case strings.Contains(goType, "int"):
		return "an integer"
	case strings.Contains(goType, "float"):
		return "a number"
	case strings.Contains(goType, "string") && strings.HasPrefix(goType, "map"):
		return "an object of strings"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.Contains(goType, "string"):
		return "a string"
	case strings.Contains(goType, "bool"):
		return "a boolean"
	}
	return fmt.Sprintf("of type %s", goType)
}

// decodeRequest reads and strictly decodes the request body into v.
func decodeRequest(r *http.Request, v any) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	return decodeJSON(body, v)
}
