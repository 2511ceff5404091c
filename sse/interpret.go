package sse

import (
	"bytes"
	"strconv"
)

// processLine applies one line, without its line ending, to the Reader's
// buffers as the WHATWG algorithm says. It reports an event when the line
// is blank and the data buffer is not empty. limit bounds the data buffer.
func (r *Reader) processLine(line []byte, limit int) (Event, bool, error) {
	if len(line) == 0 {
		ev, ok := r.dispatch()
		return ev, ok, nil
	}
	if line[0] == ':' {
		if r.OnComment != nil {
			r.OnComment(string(line[1:]))
		}
		return Event{}, false, nil
	}
	field, value := line, []byte(nil)
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		field, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(field) {
	case "event":
		r.typ = append(r.typ[:0], value...)
	case "data":
		if len(r.data)+len(value)+1 > limit {
			return Event{}, false, ErrEventTooLong
		}
		r.data = append(r.data, value...)
		r.data = append(r.data, '\n')
	case "id":
		if bytes.IndexByte(value, 0) < 0 && string(value) != r.idBuf {
			r.idBuf = string(value)
		}
	case "retry":
		if ms, ok := parseRetry(value); ok {
			r.retry = ms
			r.blockRt = ms
		}
	}
	return Event{}, false, nil
}

// dispatch ends the current block: the last event id takes the id buffer's
// value, and an event is made if the data buffer is not empty.
func (r *Reader) dispatch() (Event, bool) {
	r.lastID = r.idBuf
	rt := r.blockRt
	r.blockRt = -1
	if len(r.data) == 0 {
		r.typ = r.typ[:0]
		return Event{}, false
	}
	ev := Event{
		Type:  "message",
		ID:    r.lastID,
		Data:  string(r.data[:len(r.data)-1]),
		Retry: rt,
	}
	if len(r.typ) > 0 {
		if string(r.typ) != r.lastTyp { // streams repeat a few types
			r.lastTyp = string(r.typ)
		}
		ev.Type = r.lastTyp
	}
	r.data = r.data[:0]
	r.typ = r.typ[:0]
	return ev, true
}

// parseRetry parses a retry value: ASCII digits only, at least one, and
// small enough for an int; anything else is ignored.
func parseRetry(v []byte) (int, bool) {
	if len(v) == 0 {
		return 0, false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(string(v))
	return n, err == nil
}
