package store

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/herald-sse/herald/lifecycle"
)

// decodeRecord decodes a stored record. Records are written by Commit with
// encoding/json, so they nearly always have one shape: known keys in
// order, plain strings, raw JSON values. A hand-written decoder handles
// that shape several times faster than encoding/json; anything else
// (escapes, non-ASCII, unknown or repeated keys, null, ...) goes to
// encoding/json, so the result is always exactly what json.Unmarshal
// gives.
//
// The record's raw JSON values (Snapshot, event Data, Answer) alias data:
// the caller must not modify data afterwards (a NATS message's buffer is
// its own) nor the raw values.
func decodeRecord(data []byte, r *Record) error {
	if fastDecodeRecord(data, r) {
		return nil
	}
	*r = Record{}
	return json.Unmarshal(data, r)
}

// recordDecoder is a cursor over one record's JSON.
type recordDecoder struct {
	b []byte
	i int
}

// Field bits, to refuse repeated keys (encoding/json lets the last one win
// and merges objects; the fallback does that).
const (
	fKind = 1 << iota
	fDomain
	fOwner
	fGroup
	fEntity
	fSnapshot
	fEvents
	fCommands
	fAnswer
	fDeleted
)

// fastDecodeRecord decodes data into r when it has the shape Commit
// writes, and reports whether it did. On false, r holds garbage.
func fastDecodeRecord(data []byte, r *Record) bool {
	*r = Record{}
	d := recordDecoder{b: data}
	// Strings of the record share one allocation: the four routing
	// fields are copied into strs and sliced from it.
	var spans [4][2]int // domain, owner, group, entity: start, end in data
	ok := d.object(func(key []byte) int {
		switch string(key) {
		case "kind":
			s, ok := d.plainString()
			if !ok {
				return 0
			}
			r.Kind = kindString(s)
			return fKind
		case "domain", "owner", "group", "entity":
			k, bit := 3, fEntity
			switch key[0] {
			case 'd':
				k, bit = 0, fDomain
			case 'o':
				k, bit = 1, fOwner
			case 'g':
				k, bit = 2, fGroup
			}
			start := d.i
			if _, ok := d.plainString(); !ok {
				return 0
			}
			spans[k] = [2]int{start + 1, d.i - 1}
			return bit
		case "snapshot":
			v, ok := d.rawValue()
			if !ok {
				return 0
			}
			r.Snapshot = v
			return fSnapshot
		case "answer":
			v, ok := d.rawValue()
			if !ok {
				return 0
			}
			r.Answer = v
			return fAnswer
		case "events":
			if !d.events(r) {
				return 0
			}
			return fEvents
		case "commands":
			if !d.commands(r) {
				return 0
			}
			return fCommands
		case "deleted":
			switch {
			case d.literal("true"):
				r.Deleted = true
			case d.literal("false"):
			default:
				return 0
			}
			return fDeleted
		}
		return 0
	})
	if !ok {
		return false
	}
	d.space()
	if d.i != len(d.b) {
		return false
	}
	n := 0
	for _, sp := range spans {
		n += sp[1] - sp[0]
	}
	if n > 0 {
		buf := make([]byte, 0, n)
		for _, sp := range spans {
			buf = append(buf, data[sp[0]:sp[1]]...)
		}
		all := string(buf)
		at := 0
		fields := [4]*string{&r.Domain, &r.Owner, &r.Group, &r.Entity}
		for k, sp := range spans {
			l := sp[1] - sp[0]
			*fields[k] = all[at : at+l]
			at += l
		}
	}
	return true
}

// kindString returns the record kinds as constants (no allocation).
func kindString(s []byte) string {
	switch string(s) {
	case "session":
		return "session"
	case "task":
		return "task"
	case "job":
		return "job"
	case "node":
		return "node"
	case "output":
		return "output"
	case "domain":
		return "domain"
	case "group":
		return "group"
	case "key":
		return "key"
	case "login":
		return "login"
	}
	return string(s)
}

// events decodes the "events" array: [{"name":"…","data":…}, …].
func (d *recordDecoder) events(r *Record) bool {
	r.Events = make([]lifecycle.Event, 0, 1)
	return d.array(func() bool {
		var e lifecycle.Event
		ok := d.object(func(key []byte) int {
			switch string(key) {
			case "name":
				s, ok := d.plainString()
				if !ok {
					return 0
				}
				e.Name = string(s)
				return 1
			case "data":
				v, ok := d.rawValue()
				if !ok {
					return 0
				}
				e.Data = v
				return 2
			}
			return 0
		})
		r.Events = append(r.Events, e)
		return ok
	})
}

// commands decodes the "commands" array: [{"node":…,"type":…,"job_id":…}, …].
func (d *recordDecoder) commands(r *Record) bool {
	r.Commands = make([]lifecycle.Command, 0, 1)
	return d.array(func() bool {
		var c lifecycle.Command
		ok := d.object(func(key []byte) int {
			var dst *string
			var bit int
			switch string(key) {
			case "node":
				dst, bit = &c.Node, 1
			case "type":
				dst, bit = &c.Type, 2
			case "job_id":
				dst, bit = &c.JobID, 4
			default:
				return 0
			}
			s, ok := d.plainString()
			if !ok {
				return 0
			}
			*dst = string(s)
			return bit
		})
		r.Commands = append(r.Commands, c)
		return ok
	})
}

// object decodes a JSON object. For each member, once its key and colon
// are read, field decodes the value and returns the member's bit, or 0 to
// refuse it; a repeated member (encoding/json lets the last one win and
// merges objects) or unexpected syntax fails.
func (d *recordDecoder) object(field func(key []byte) (bit int)) bool {
	if !d.byte('{') {
		return false
	}
	if d.byte('}') {
		return true
	}
	seen := 0
	for {
		key, ok := d.plainString()
		if !ok || !d.byte(':') {
			return false
		}
		bit := field(key)
		if bit == 0 || seen&bit != 0 {
			return false
		}
		seen |= bit
		if !d.byte(',') {
			return d.byte('}')
		}
	}
}

// array decodes a JSON array, item decoding each element.
func (d *recordDecoder) array(item func() bool) bool {
	if !d.byte('[') {
		return false
	}
	if d.byte(']') {
		return true
	}
	for {
		if !item() {
			return false
		}
		if !d.byte(',') {
			return d.byte(']')
		}
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (d *recordDecoder) space() {
	for d.i < len(d.b) && isSpace(d.b[d.i]) {
		d.i++
	}
}

// peek returns the next non-space byte, 0 at the end.
func (d *recordDecoder) peek() byte {
	d.space()
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

// byte consumes c (after spaces) if it is next.
func (d *recordDecoder) byte(c byte) bool {
	if d.peek() == c {
		d.i++
		return true
	}
	return false
}

func (d *recordDecoder) literal(lit string) bool {
	d.space()
	if len(d.b)-d.i >= len(lit) && string(d.b[d.i:d.i+len(lit)]) == lit {
		d.i += len(lit)
		return true
	}
	return false
}

// plainString consumes a string made of printable ASCII without escapes
// and returns its contents (aliasing the input). Anything else is left to
// the fallback, which unescapes and replaces invalid UTF-8.
func (d *recordDecoder) plainString() ([]byte, bool) {
	if !d.byte('"') {
		return nil, false
	}
	start := d.i
	i := start
	for i < len(d.b) && !plainStop[d.b[i]] {
		i++
	}
	if i < len(d.b) && d.b[i] == '"' {
		d.i = i + 1
		return d.b[start:i], true
	}
	return nil, false
}

// plainStop and stringStop mark the bytes that end a run of string
// contents: the quote, a backslash, control bytes, and for plain strings
// non-ASCII.
var plainStop, stringStop = func() (p, s [256]bool) {
	for c := range 256 {
		s[c] = c < 0x20 || c == '"' || c == '\\'
		p[c] = s[c] || c >= utf8.RuneSelf
	}
	return p, s
}()

// rawValue consumes one JSON value, checking its syntax as encoding/json
// does, and returns its bytes (aliasing the input). Like encoding/json
// into a json.RawMessage, null gives the bytes "null".
func (d *recordDecoder) rawValue() ([]byte, bool) {
	d.space()
	start := d.i
	if !d.skipValue(0) {
		return nil, false
	}
	return d.b[start:d.i:d.i], true
}

// maxDepth bounds nesting inside raw values (encoding/json allows 10000;
// deeper records go to it).
const maxDepth = 512

// skipValue consumes one JSON value after spaces and reports whether it is
// valid.
func (d *recordDecoder) skipValue(depth int) bool {
	if depth > maxDepth {
		return false
	}
	switch d.peek() {
	case '{':
		d.i++
		if d.byte('}') {
			return true
		}
		for {
			if d.peek() != '"' || !d.skipString() || !d.byte(':') || !d.skipValue(depth+1) {
				return false
			}
			if d.byte(',') {
				continue
			}
			return d.byte('}')
		}
	case '[':
		d.i++
		if d.byte(']') {
			return true
		}
		for {
			if !d.skipValue(depth + 1) {
				return false
			}
			if d.byte(',') {
				continue
			}
			return d.byte(']')
		}
	case '"':
		return d.skipString()
	case 't':
		return d.literal("true")
	case 'f':
		return d.literal("false")
	case 'n':
		return d.literal("null")
	default:
		return d.skipNumber()
	}
}

// skipString consumes a string at d.i, validating escapes. Like
// encoding/json's scanner it accepts any byte ≥ 0x20 (raw values are
// copied, not decoded).
func (d *recordDecoder) skipString() bool {
	i := d.i + 1
	for i < len(d.b) {
		for i < len(d.b) && !stringStop[d.b[i]] {
			i++
		}
		if i >= len(d.b) {
			return false
		}
		switch c := d.b[i]; {
		case c == '"':
			d.i = i + 1
			return true
		case c < 0x20:
			return false
		case c == '\\':
			i++
			if i >= len(d.b) {
				return false
			}
			switch d.b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+4 >= len(d.b) {
					return false
				}
				for _, h := range d.b[i+1 : i+5] {
					if !isHex(h) {
						return false
					}
				}
				i += 5
			default:
				return false
			}
		default:
			i++
		}
	}
	return false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// skipNumber consumes a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *recordDecoder) skipNumber() bool {
	b, i := d.b, d.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return false
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return false
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	d.i = i
	return true
}
