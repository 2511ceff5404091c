package sse

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// FuzzRoundTrip encodes a retry, a comment and the same event twice, and
// checks the Reader (and the reference parser) see exactly that: the name
// as the type ("" reads back as "message"), the id as the last event id,
// and the data with every CRLF and lone CR turned into LF, nothing more.
func FuzzRoundTrip(f *testing.F) {
	f.Add("session.created", "e1-1", []byte(`{"id":"s1"}`), "keepalive", 3000)
	f.Add("", "", []byte(""), "", 0)
	f.Add("message", "", []byte("\n"), "\r\n", -1)
	f.Add(" spaced", " 1", []byte(" lead"), " c", 5)
	f.Add("a:b", "1:2", []byte("a\r\nb\rc\nd"), "x", 1<<40)
	f.Add("e", "1", []byte("\r"), "", 1)
	f.Add("e", "1", []byte("\r\n\r\n"), "", 1)
	f.Add("e", "1", []byte("a\r\r\nb\n\r"), "", 1)
	f.Add("\xef\xbb\xbf", "\xff", []byte("\x00\xef\xbb\xbf"), "\x00", 2)
	f.Add("bad\n", "1", []byte("x"), "", 1)
	f.Add("e", "bad\x00", []byte("x"), "", 1)
	f.Fuzz(func(t *testing.T, name, id string, data []byte, comment string, retry int) {
		stream, err := AppendEventChecked(nil, name, id, data)
		if !ValidField(name) || !ValidField(id) {
			if !errors.Is(err, ErrInvalidField) || len(stream) != 0 {
				t.Fatalf("invalid field: got %q, %v", stream, err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(stream, AppendEvent(nil, name, id, data)) {
			t.Fatal("AppendEventChecked and AppendEvent differ")
		}

		stream = AppendRetry(nil, retry)
		stream = AppendComment(stream, comment)
		stream = AppendEvent(stream, name, id, data)
		stream = AppendEvent(stream, name, id, data)

		typ := name
		if typ == "" {
			typ = "message"
		}
		norm := strings.ReplaceAll(string(data), "\r\n", "\n")
		norm = strings.ReplaceAll(norm, "\r", "\n")
		ev := Event{Type: typ, ID: id, Data: norm, Retry: -1}
		want := transcript{
			Events:   []Event{ev, ev},
			Comments: []string{strings.NewReplacer("\r", " ", "\n", " ").Replace(comment)},
			LastID:   id,
			Retry:    max(retry, 0),
		}
		if ref := refParse(string(stream)); !reflect.DeepEqual(ref, want) {
			t.Fatalf("reference parser on %q:\n got %+v\nwant %+v", stream, ref, want)
		}
		for _, r := range []io.Reader{bytes.NewReader(stream), iotest.OneByteReader(bytes.NewReader(stream))} {
			got, err := parseAll(r, len(stream)+1)
			if err != io.EOF {
				t.Fatalf("err = %v, want io.EOF", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("stream %q:\n got %+v\nwant %+v", stream, got, want)
			}
		}
	})
}

// FuzzReader feeds arbitrary bytes to the Reader and checks it agrees with
// the reference parser, whole and one byte at a time, never reports an id
// with NUL, and under a small MaxLine stops with a limit error after a
// prefix of the same events.
func FuzzReader(f *testing.F) {
	paths, _ := filepath.Glob("testdata/*.txt")
	for _, path := range paths {
		f.Add(loadGolden(f, path).stream)
	}
	for _, s := range []string{
		"", "\r", "\n", "\r\n", "\r\r", "\n\r", "\r\n\r\n",
		"\xEF\xBB\xBF", "\xEF\xBB", "\xEF\xBB\xBF\xEF\xBB\xBFdata: x\n\n",
		"data: x\r", "data: x\r\r", "data: x\r\n\r", "data: x",
		"data\n\n", "data:\n\n", "data: \n\n", "data:  x\n\n", ":\n", ": c\r",
		"id: a\x00b\ndata: x\n\n", "id: 1\n\nid\ndata: x\n\n", "id: 1\ndata\n\nid: \x00\n\n",
		"retry: 12\n\n", "retry: 1a\n\n", "retry: -1\n", "retry:\n", "retry: 99999999999999999999\n",
		"event: e\n\ndata: x\n\n", "event\ndata\n\n", "Event: e\ndata: x\n\n",
		"data: a\ndata: b\ndata\n\n", "x:y:z\n\n", ":::\n\n",
		"data: " + strings.Repeat("x", 5000) + "\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, stream []byte) {
		want := refParse(string(stream))
		for name, r := range map[string]io.Reader{
			"whole": bytes.NewReader(stream),
			"1byte": iotest.OneByteReader(bytes.NewReader(stream)),
		} {
			got, err := parseAll(r, len(stream)+1)
			if err != io.EOF {
				t.Fatalf("%s: err = %v, want io.EOF", name, err)
			}
			for _, ev := range got.Events {
				if strings.Contains(ev.ID, "\x00") {
					t.Fatalf("%s: event id %q contains NUL", name, ev.ID)
				}
			}
			if strings.Contains(got.LastID, "\x00") {
				t.Fatalf("%s: last event id %q contains NUL", name, got.LastID)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: stream %q:\n got %+v\nwant %+v", name, stream, got, want)
			}
		}

		const small = 8
		got, err := parseAll(bytes.NewReader(stream), small)
		switch {
		case err == io.EOF:
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("MaxLine %d: stream %q:\n got %+v\nwant %+v", small, stream, got, want)
			}
		case errors.Is(err, ErrLineTooLong), errors.Is(err, ErrEventTooLong):
			if len(got.Events) > len(want.Events) || !slices.Equal(got.Events, want.Events[:len(got.Events)]) {
				t.Fatalf("MaxLine %d: events %+v not a prefix of %+v", small, got.Events, want.Events)
			}
			if len(got.Comments) > len(want.Comments) || !slices.Equal(got.Comments, want.Comments[:len(got.Comments)]) {
				t.Fatalf("MaxLine %d: comments %q not a prefix of %q", small, got.Comments, want.Comments)
			}
		default:
			t.Fatalf("MaxLine %d: err = %v", small, err)
		}
	})
}
