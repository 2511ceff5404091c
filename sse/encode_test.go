package sse

import (
	"errors"
	"testing"
)

func TestAppendEvent(t *testing.T) {
	tests := []struct {
		name, ev, id, data string
		want               string
	}{
		{"full", "session.created", "e1-1", `{"a":1}`, "event: session.created\nid: e1-1\ndata: {\"a\":1}\n\n"},
		{"no name", "", "e1-1", `{}`, "id: e1-1\ndata: {}\n\n"},
		{"no id", "ping", "", `{}`, "event: ping\ndata: {}\n\n"},
		{"data only", "", "", "x", "data: x\n\n"},
		{"empty data", "ping", "", "", "event: ping\ndata: \n\n"},
		{"LF", "", "", "a\nb", "data: a\ndata: b\n\n"},
		{"CR", "", "", "a\rb", "data: a\ndata: b\n\n"},
		{"CRLF", "", "", "a\r\nb", "data: a\ndata: b\n\n"},
		{"LF CR", "", "", "a\n\rb", "data: a\ndata: \ndata: b\n\n"},
		{"CR CR LF", "", "", "a\r\r\nb", "data: a\ndata: \ndata: b\n\n"},
		{"trailing LF", "", "", "a\n", "data: a\ndata: \n\n"},
		{"trailing CRLF", "", "", "a\r\n", "data: a\ndata: \n\n"},
		{"trailing CR", "", "", "a\r", "data: a\ndata: \n\n"},
		{"only LF", "", "", "\n", "data: \ndata: \n\n"},
		{"leading space", "", "", " a", "data:  a\n\n"},
		{"colon", "", "", ":a", "data: :a\n\n"},
		{"mixed", "", "", "a\rb\nc\r\nd\n\ne", "data: a\ndata: b\ndata: c\ndata: d\ndata: \ndata: e\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []byte("prefix")
			got := AppendEvent(prefix, tt.ev, tt.id, []byte(tt.data))
			if string(got) != "prefix"+tt.want {
				t.Errorf("got %q, want %q", got, "prefix"+tt.want)
			}
		})
	}
}

func TestValidField(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"", true},
		{"session.created", true},
		{"e1-2.3", true},
		{"with space: and colon", true},
		{"\xff", true},
		{"a\nb", false},
		{"a\rb", false},
		{"a\x00b", false},
		{"\n", false},
	}
	for _, tt := range tests {
		if got := ValidField(tt.in); got != tt.want {
			t.Errorf("ValidField(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestAppendEventChecked(t *testing.T) {
	tests := []struct {
		name, ev, id string
		wantErr      bool
	}{
		{"valid", "a", "1", false},
		{"empty", "", "", false},
		{"name LF", "a\n", "1", true},
		{"name CR", "\ra", "1", true},
		{"id NUL", "a", "1\x00", true},
		{"id CR", "a", "\r", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("keep")
			got, err := AppendEventChecked(dst, tt.ev, tt.id, []byte("d"))
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidField) {
					t.Fatalf("err = %v, want ErrInvalidField", err)
				}
				if string(got) != "keep" {
					t.Errorf("dst changed to %q", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := AppendEvent([]byte("keep"), tt.ev, tt.id, []byte("d")); string(got) != string(want) {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

func TestAppendComment(t *testing.T) {
	tests := []struct{ in, want string }{
		{"keepalive", ":keepalive\n"},
		{"", ":\n"},
		{" spaced", ": spaced\n"},
		{"a\nb\rc\r\nd", ":a b c  d\n"},
		{"\n", ": \n"},
	}
	for _, tt := range tests {
		if got := AppendComment([]byte("x"), tt.in); string(got) != "x"+tt.want {
			t.Errorf("AppendComment(%q) = %q, want %q", tt.in, got, "x"+tt.want)
		}
	}
}

func TestAppendRetry(t *testing.T) {
	tests := []struct {
		in   int
		want string
	}{
		{3000, "retry: 3000\n\n"},
		{0, "retry: 0\n\n"},
		{-1, "retry: 0\n\n"},
	}
	for _, tt := range tests {
		if got := AppendRetry(nil, tt.in); string(got) != tt.want {
			t.Errorf("AppendRetry(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestAppendZeroAlloc checks the hot path allocates nothing once dst has
// room.
func TestAppendZeroAlloc(t *testing.T) {
	data := []byte(benchData + "\r\n" + benchData + "\n")
	dst := make([]byte, 0, 4096)
	allocs := testing.AllocsPerRun(100, func() {
		dst = AppendEvent(dst[:0], "session.state", "e1-42.1", data)
		dst = AppendComment(dst, "keepalive")
		dst = AppendRetry(dst, 3000)
		_, _ = AppendEventChecked(dst, "session.state", "e1-42.1", data)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per run, want 0", allocs)
	}
}
