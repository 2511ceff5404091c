package sse

import (
	"bytes"
	"fmt"
	"strconv"
)

// AppendEvent appends one event frame to dst and returns the extended slice:
//
//	event: NAME\n   (omitted when name == "")
//	id: ID\n        (omitted when id == "")
//	data: LINE\n    (one per line of data)
//	\n
//
// data is split on every CRLF, lone CR and lone LF, and each piece gets its
// own "data: " line, so a Reader (or browser) sees data with every line
// ending normalized to LF. Empty data still gets one "data: " line so that
// browsers dispatch the event (they drop events whose data buffer is empty);
// likewise data ending in a line break gets a final empty "data: " line, so
// the trailing LF survives the round trip. Every data line carries the space
// after the colon, so data that starts with a space keeps it.
//
// AppendEvent assumes name and id are valid (see ValidField) and does not
// check them; callers validate once, where the name or id is made, or use
// AppendEventChecked. It allocates only when dst must grow.
func AppendEvent(dst []byte, name, id string, data []byte) []byte {
	if name != "" {
		dst = append(dst, "event: "...)
		dst = append(dst, name...)
		dst = append(dst, '\n')
	}
	if id != "" {
		dst = append(dst, "id: "...)
		dst = append(dst, id...)
		dst = append(dst, '\n')
	}
	dst = appendData(dst, data)
	return append(dst, '\n')
}

// AppendEventChecked is AppendEvent for names and ids that have not been
// validated: if either is not a ValidField it returns dst unchanged and an
// error wrapping ErrInvalidField.
func AppendEventChecked(dst []byte, name, id string, data []byte) ([]byte, error) {
	if !ValidField(name) {
		return dst, fmt.Errorf("event name %q: %w", name, ErrInvalidField)
	}
	if !ValidField(id) {
		return dst, fmt.Errorf("event id %q: %w", id, ErrInvalidField)
	}
	return AppendEvent(dst, name, id, data), nil
}

// appendData appends data as "data: " lines, splitting on CRLF, CR and LF.
// It keeps the position of the next CR and of the next LF and searches again
// only past the one it consumed, so it stays linear in len(data).
func appendData(dst, data []byte) []byte {
	cr := bytes.IndexByte(data, '\r')
	lf := bytes.IndexByte(data, '\n')
	start := 0
	for {
		end, next := len(data), -1
		switch {
		case cr < 0 && lf < 0:
			// last line
		case lf < 0 || (cr >= 0 && cr < lf):
			end, next = cr, cr+1
			if lf == next {
				next++ // CRLF is one line ending
			}
		default:
			end, next = lf, lf+1
		}
		dst = append(dst, "data: "...)
		dst = append(dst, data[start:end]...)
		dst = append(dst, '\n')
		if next < 0 {
			return dst
		}
		start = next
		if cr >= 0 && cr < start {
			cr = indexFrom(data, start, '\r')
		}
		if lf >= 0 && lf < start {
			lf = indexFrom(data, start, '\n')
		}
	}
}

// indexFrom is bytes.IndexByte on b[from:], with the result relative to b.
func indexFrom(b []byte, from int, c byte) int {
	i := bytes.IndexByte(b[from:], c)
	if i < 0 {
		return -1
	}
	return from + i
}

// AppendComment appends the comment line ":" + text + "\n" to dst. CR and LF
// in text are replaced by spaces so the comment stays one line. A comment
// dispatches nothing; herald sends AppendComment(dst, "keepalive") to keep
// idle connections open.
func AppendComment(dst []byte, text string) []byte {
	dst = append(dst, ':')
	for {
		i := indexEOLString(text)
		if i < 0 {
			break
		}
		dst = append(dst, text[:i]...)
		dst = append(dst, ' ')
		text = text[i+1:]
	}
	dst = append(dst, text...)
	return append(dst, '\n')
}

// indexEOLString returns the index of the first CR or LF in s, or -1.
func indexEOLString(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '\r' || s[i] == '\n' {
			return i
		}
	}
	return -1
}

// AppendRetry appends "retry: MS\n\n" to dst, telling clients to wait ms
// milliseconds before reconnecting. The blank line ends the block; it
// dispatches no event. A negative ms is sent as 0.
func AppendRetry(dst []byte, ms int) []byte {
	if ms < 0 {
		ms = 0
	}
	dst = append(dst, "retry: "...)
	dst = strconv.AppendInt(dst, int64(ms), 10)
	return append(dst, '\n', '\n')
}
