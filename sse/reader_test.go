package sse

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestReaderLimits(t *testing.T) {
	tests := []struct {
		name    string
		stream  string
		maxLine int
		want    []Event
		wantErr error
	}{
		{"line at limit", "data: 12345678\n\n", 14, []Event{{"message", "", "12345678", -1}}, io.EOF},
		{"line over limit", "data: 123456789\n\n", 14, nil, ErrLineTooLong},
		{"unterminated line over limit", "data: 123456789", 14, nil, ErrLineTooLong},
		{"comment over limit", ":123456789012345\n", 14, nil, ErrLineTooLong},
		{"event before long line", "data: a\n\ndata: 123456789\n", 14, []Event{{"message", "", "a", -1}}, ErrLineTooLong},
		{"data at limit", "data: 1234\ndata: 5678\n\n", 10, []Event{{"message", "", "1234\n5678", -1}}, io.EOF},
		{"data over limit", "data: 1234\ndata: 5678\ndata: 9\n\n", 10, nil, ErrEventTooLong},
		{"default limit", "data: " + strings.Repeat("x", DefaultMaxLine) + "\n\n", 0, nil, ErrLineTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseAll(strings.NewReader(tt.stream), tt.maxLine)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got.Events, tt.want) {
				t.Errorf("events %+v, want %+v", got.Events, tt.want)
			}
		})
	}
}

func TestReaderReadError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader("data: a\n\ndata: b\n"), iotest.ErrReader(boom))
	got, err := parseAll(r, 0)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if want := []Event{{"message", "", "a", -1}}; !reflect.DeepEqual(got.Events, want) {
		t.Errorf("events %+v, want %+v", got.Events, want)
	}
	// An error while looking for the BOM is reported too.
	if _, err := NewReader(iotest.ErrReader(boom)).Next(); !errors.Is(err, boom) {
		t.Errorf("err = %v, want boom", err)
	}
}

// TestReaderRawBytes checks invalid UTF-8 reaches the event as is.
func TestReaderRawBytes(t *testing.T) {
	got, err := parseAll(strings.NewReader("event: \xff\nid: \xfe\ndata: \xc3\x28\n\n"), 0)
	if err != io.EOF {
		t.Fatal(err)
	}
	if want := []Event{{"\xff", "\xfe", "\xc3\x28", -1}}; !reflect.DeepEqual(got.Events, want) {
		t.Errorf("events %+v, want %+v", got.Events, want)
	}
}

// TestReaderLive writes a stream in pieces through a pipe and checks each
// event is returned as soon as its blank line is written, with nothing
// after it: in particular a CR is not held back to see whether an LF
// follows, and a CR at the end of one write followed by an LF at the start
// of the next is one line ending.
func TestReaderLive(t *testing.T) {
	pr, pw := io.Pipe()
	defer pr.Close()
	r := NewReader(pr)
	var comments []string
	r.OnComment = func(text string) { comments = append(comments, text) }

	steps := []struct {
		write string
		want  *Event // nil: Next must still be waiting after the write
	}{
		{"\xEF", nil},
		{"\xBB\xBF", nil},
		{"data: a\r", nil},
		{"\r", &Event{"message", "", "a", -1}},
		{"\n", nil}, // ends the blank line above, not a second one
		{"data: b\r", nil},
		{"\n\r", &Event{"message", "", "b", -1}},
		{"\nid: 1\n", nil}, // the LF ends the blank line above
		{":keepalive\n", nil},
		{"data: c\n\r\n", &Event{"message", "1", "c", -1}},
	}
	type result struct {
		ev  Event
		err error
	}
	results := make(chan result)
	next := func() {
		ev, err := r.Next()
		results <- result{ev, err}
	}
	go next()
	for _, s := range steps {
		if _, err := io.WriteString(pw, s.write); err != nil {
			t.Fatal(err)
		}
		if s.want == nil {
			select {
			case res := <-results:
				t.Fatalf("after %q: Next returned early: %+v, %v", s.write, res.ev, res.err)
			case <-time.After(20 * time.Millisecond):
			}
			continue
		}
		select {
		case res := <-results:
			if res.err != nil || res.ev != *s.want {
				t.Fatalf("after %q: got %+v, %v; want %+v", s.write, res.ev, res.err, *s.want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("after %q: Next did not return", s.write)
		}
		go next()
	}
	pw.Close()
	res := <-results
	if res.err != io.EOF {
		t.Fatalf("err = %v, want io.EOF", res.err)
	}
	if want := []string{"keepalive"}; !reflect.DeepEqual(comments, want) {
		t.Errorf("comments %q, want %q", comments, want)
	}
	if r.LastEventID() != "1" {
		t.Errorf("LastEventID = %q, want 1", r.LastEventID())
	}
}

func TestReaderEmpty(t *testing.T) {
	for _, s := range []string{"", "\xEF", "\xEF\xBB", "\xEF\xBB\xBF", "\xEF\n", ":x"} {
		got, err := parseAll(strings.NewReader(s), 0)
		if err != io.EOF || len(got.Events) != 0 {
			t.Errorf("%q: got %+v, %v", s, got, err)
		}
	}
}
