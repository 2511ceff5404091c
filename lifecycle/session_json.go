package lifecycle

import (
	"encoding/json"
	"time"
)

// Session snapshots and events are encoded and decoded on every session
// report and every record the views apply: this file does it without
// reflection for the common shape, byte for byte as encoding/json does, and
// hands anything unusual to encoding/json.

// AppendJSON appends s encoded exactly as json.Marshal(s) encodes it.
func (s *Session) AppendJSON(dst []byte) []byte {
	if !plainForMarshal(s.SessionID) || !plainForMarshal(s.OwnerAccessKey) || !plainForMarshal(s.Domain) ||
		!plainForMarshal(s.Group) || !plainForMarshal(string(s.State)) ||
		(s.Reason != nil && !plainForMarshal(*s.Reason)) || (s.Result != nil && !plainForMarshal(*s.Result)) ||
		!jsonTime(s.CreatedAt) || !jsonTime(s.UpdatedAt) {
		b, err := json.Marshal(s)
		if err != nil { // a time outside years 0-9999: never built by Apply
			return append(dst, "{}"...)
		}
		return append(dst, b...)
	}
	dst = append(dst, `{"sessionId":"`...)
	dst = append(dst, s.SessionID...)
	dst = append(dst, `","ownerAccessKey":"`...)
	dst = append(dst, s.OwnerAccessKey...)
	dst = append(dst, `","domain":"`...)
	dst = append(dst, s.Domain...)
	dst = append(dst, `","group":"`...)
	dst = append(dst, s.Group...)
	dst = append(dst, `","state":"`...)
	dst = append(dst, s.State...)
	dst = append(dst, `","reason":`...)
	dst = appendPlainPtr(dst, s.Reason)
	if s.Result != nil {
		dst = append(dst, `,"result":`...)
		dst = appendPlainPtr(dst, s.Result)
	}
	dst = append(dst, `,"createdAt":"`...)
	dst = s.CreatedAt.AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","updatedAt":"`...)
	dst = s.UpdatedAt.AppendFormat(dst, time.RFC3339Nano)
	return append(dst, `"}`...)
}

// ParseSession decodes a session snapshot as json.Unmarshal does.
func ParseSession(b []byte) (Session, error) {
	if s, ok := parseSessionFast(b); ok {
		return s, nil
	}
	var s Session
	err := json.Unmarshal(b, &s)
	return s, err
}

// parseSessionFast reads the exact shape AppendJSON writes with plain
// strings; anything else reports false.
func parseSessionFast(b []byte) (Session, bool) {
	var s Session
	p := jsonCursor{b: b}
	ok := p.lit(`{"sessionId":`) && p.str(&s.SessionID) &&
		p.lit(`,"ownerAccessKey":`) && p.str(&s.OwnerAccessKey) &&
		p.lit(`,"domain":`) && p.str(&s.Domain) &&
		p.lit(`,"group":`) && p.str(&s.Group) &&
		p.lit(`,"state":`) && p.str((*string)(&s.State)) &&
		p.lit(`,"reason":`) && p.strOrNull(&s.Reason)
	if !ok {
		return Session{}, false
	}
	if p.lit(`,"result":`) && !p.strOrNull(&s.Result) {
		return Session{}, false
	}
	ok = p.lit(`,"createdAt":`) && p.time(&s.CreatedAt) &&
		p.lit(`,"updatedAt":`) && p.time(&s.UpdatedAt) && p.lit("}") && p.i == len(b)
	return s, ok
}

// jsonCursor reads a JSON text of a known shape: no whitespace, strings of
// printable ASCII without escapes.
type jsonCursor struct {
	b []byte
	i int
}

func (p *jsonCursor) lit(s string) bool {
	if len(p.b)-p.i >= len(s) && string(p.b[p.i:p.i+len(s)]) == s {
		p.i += len(s)
		return true
	}
	return false
}

func (p *jsonCursor) raw() ([]byte, bool) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return nil, false
	}
	for j := p.i + 1; j < len(p.b); j++ {
		switch c := p.b[j]; {
		case c == '"':
			v := p.b[p.i+1 : j]
			p.i = j + 1
			return v, true
		case c == '\\' || c < 0x20 || c >= 0x7f:
			return nil, false
		}
	}
	return nil, false
}

func (p *jsonCursor) str(dst *string) bool {
	v, ok := p.raw()
	if ok {
		*dst = string(v)
	}
	return ok
}

func (p *jsonCursor) strOrNull(dst **string) bool {
	if p.lit("null") {
		*dst = nil
		return true
	}
	var s string
	if !p.str(&s) {
		return false
	}
	*dst = &s
	return true
}

// time reads what time.Time's MarshalJSON writes for a UTC time.
func (p *jsonCursor) time(dst *time.Time) bool {
	v, ok := p.raw()
	if !ok || len(v) < len("2006-01-02T15:04:05Z") || v[len(v)-1] != 'Z' {
		return false
	}
	t, err := time.Parse(time.RFC3339Nano, string(v))
	if err != nil {
		return false
	}
	*dst = t
	return true
}

// plainForMarshal reports whether encoding/json writes s inside quotes
// unchanged (it escapes <, > and & for HTML).
func plainForMarshal(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// plainForData reports whether jsonData (no HTML escaping) writes s inside
// quotes unchanged.
func plainForData(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// jsonTime reports whether t encodes as a UTC RFC 3339 time (what Apply
// builds) that time.Time.MarshalJSON accepts.
func jsonTime(t time.Time) bool {
	return t.Location() == time.UTC && t.Year() >= 0 && t.Year() <= 9999
}

func appendPlainPtr(dst []byte, p *string) []byte {
	if p == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '"')
	dst = append(dst, *p...)
	return append(dst, '"')
}

// appendData encodes a session event's data as jsonData does.
func (d *sessionEventData) appendData() json.RawMessage {
	if !plainForData(d.SessionID) || !plainForData(d.OwnerAccessKey) || !plainForData(d.Group) ||
		(d.Reason != nil && !plainForData(*d.Reason)) || (d.Result != nil && !plainForData(*d.Result)) ||
		!plainForData(d.Timestamp) {
		return jsonData(*d)
	}
	dst := make([]byte, 0, 128+len(d.SessionID)+len(d.OwnerAccessKey)+len(d.Group)+len(d.Timestamp))
	dst = append(dst, `{"sessionId":"`...)
	dst = append(dst, d.SessionID...)
	dst = append(dst, `","ownerAccessKey":"`...)
	dst = append(dst, d.OwnerAccessKey...)
	dst = append(dst, `","group":"`...)
	dst = append(dst, d.Group...)
	dst = append(dst, `","reason":`...)
	dst = appendPlainPtr(dst, d.Reason)
	if d.Result != nil {
		dst = append(dst, `,"result":`...)
		dst = appendPlainPtr(dst, d.Result)
	}
	dst = append(dst, `,"timestamp":"`...)
	dst = append(dst, d.Timestamp...)
	return append(dst, `"}`...)
}
