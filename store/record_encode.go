package store

import (
	"encoding/json"
	"fmt"
)

// AppendJSON appends the record encoded exactly as json.Marshal encodes it,
// without reflection on the common path. Its raw members (Snapshot, event
// Data, Answer) must hold valid JSON, as everything herald builds does; one
// that is not plain compact ASCII is handed to encoding/json, which also
// reports it if it is invalid.
func (r *Record) AppendJSON(dst []byte) ([]byte, error) {
	dst = append(dst, `{"kind":`...)
	dst = appendJSONString(dst, r.Kind)
	dst = appendStringMember(dst, `,"domain":`, r.Domain)
	dst = appendStringMember(dst, `,"owner":`, r.Owner)
	dst = appendStringMember(dst, `,"group":`, r.Group)
	dst = appendStringMember(dst, `,"entity":`, r.Entity)
	var err error
	if len(r.Snapshot) > 0 {
		dst = append(dst, `,"snapshot":`...)
		if dst, err = appendRaw(dst, r.Snapshot); err != nil {
			return nil, fmt.Errorf("snapshot: %w", err)
		}
	}
	if len(r.Events) > 0 {
		dst = append(dst, `,"events":[`...)
		for i, e := range r.Events {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"name":`...)
			dst = appendJSONString(dst, e.Name)
			dst = append(dst, `,"data":`...)
			if e.Data == nil {
				dst = append(dst, "null"...)
			} else if dst, err = appendRaw(dst, e.Data); err != nil {
				return nil, fmt.Errorf("event %d data: %w", i, err)
			}
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	if len(r.Commands) > 0 {
		b, err := json.Marshal(r.Commands)
		if err != nil {
			return nil, err
		}
		dst = append(dst, `,"commands":`...)
		dst = append(dst, b...)
	}
	if len(r.Answer) > 0 {
		dst = append(dst, `,"answer":`...)
		if dst, err = appendRaw(dst, r.Answer); err != nil {
			return nil, fmt.Errorf("answer: %w", err)
		}
	}
	if r.Deleted {
		dst = append(dst, `,"deleted":true`...)
	}
	return append(dst, '}'), nil
}

func appendStringMember(dst []byte, name, s string) []byte {
	if s == "" {
		return dst
	}
	dst = append(dst, name...)
	return appendJSONString(dst, s)
}

// jsonPlainByte reports whether encoding/json writes c, inside a string,
// unchanged: printable ASCII other than the quote, the backslash and the
// characters it escapes for HTML.
func jsonPlainByte(c byte) bool {
	return c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
}

// appendJSONString appends s as encoding/json encodes a string.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !jsonPlainByte(s[i]) {
			b, _ := json.Marshal(s) // a string always encodes
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// appendRaw appends a raw JSON value as encoding/json re-encodes a
// json.RawMessage (compacted, HTML characters escaped). Compact printable
// ASCII with balanced brackets is copied as is; anything else goes through
// encoding/json.
func appendRaw(dst []byte, raw []byte) ([]byte, error) {
	if compactASCII(raw) {
		return append(dst, raw...), nil
	}
	b, err := json.Marshal(json.RawMessage(raw))
	if err != nil {
		return nil, err
	}
	return append(dst, b...), nil
}

// compactASCII reports whether raw has no whitespace outside strings, only
// printable ASCII other than < > &, terminated strings and balanced
// brackets, so that encoding/json would re-encode it unchanged if valid.
func compactASCII(raw []byte) bool {
	depth, inStr, esc := 0, false, false
	for _, c := range raw {
		if c < 0x20 || c >= 0x7f || c == '<' || c == '>' || c == '&' {
			return false
		}
		switch {
		case esc:
			esc = false
		case inStr:
			switch c {
			case '\\':
				esc = true
			case '"':
				inStr = false
			}
		default:
			switch c {
			case ' ':
				return false
			case '"':
				inStr = true
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth < 0 {
					return false
				}
			}
		}
	}
	return len(raw) > 0 && depth == 0 && !inStr && !esc
}
