package sse

import (
	"errors"
	"io"
	"strconv"
	"strings"
)

// transcript is everything a parse of a stream yields.
type transcript struct {
	Events   []Event
	Comments []string
	LastID   string
	Retry    int
}

// refParse is the reference the Reader is checked against: the WHATWG
// "event stream interpretation" algorithm, step by step, on a whole string.
func refParse(s string) transcript {
	t := transcript{Retry: -1}
	s = strings.TrimPrefix(s, "\xEF\xBB\xBF")
	var data, typ, idBuf string
	blockRetry := -1
	for {
		i := strings.IndexAny(s, "\r\n")
		if i < 0 {
			break // end of file: an unterminated line is discarded
		}
		line := s[:i]
		if strings.HasPrefix(s[i:], "\r\n") {
			s = s[i+2:]
		} else {
			s = s[i+1:]
		}
		if line == "" { // dispatch
			t.LastID = idBuf
			rt := blockRetry
			blockRetry = -1
			if data == "" {
				data, typ = "", ""
				continue
			}
			data = strings.TrimSuffix(data, "\n")
			if typ == "" {
				typ = "message"
			}
			t.Events = append(t.Events, Event{Type: typ, ID: t.LastID, Data: data, Retry: rt})
			data, typ = "", ""
			continue
		}
		if line[0] == ':' {
			t.Comments = append(t.Comments, line[1:])
			continue
		}
		field, value, found := strings.Cut(line, ":")
		if found {
			value = strings.TrimPrefix(value, " ")
		}
		switch field {
		case "event":
			typ = value
		case "data":
			data += value + "\n"
		case "id":
			if !strings.Contains(value, "\x00") {
				idBuf = value
			}
		case "retry":
			if value != "" && strings.Trim(value, "0123456789") == "" {
				if n, err := strconv.Atoi(value); err == nil {
					t.Retry = n
					blockRetry = n
				}
			}
		}
	}
	return t
}

// parseAll runs a Reader over r until it fails and returns what it saw and
// the error (io.EOF at a clean end).
func parseAll(r io.Reader, maxLine int) (transcript, error) {
	var t transcript
	rd := NewReader(r)
	rd.MaxLine = maxLine
	rd.OnComment = func(text string) { t.Comments = append(t.Comments, text) }
	for {
		ev, err := rd.Next()
		if err != nil {
			t.LastID, t.Retry = rd.LastEventID(), rd.Retry()
			if _, err2 := rd.Next(); !errors.Is(err2, err) {
				return t, errors.New("error not sticky: " + err.Error() + " then " + errString(err2))
			}
			return t, err
		}
		t.Events = append(t.Events, ev)
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
