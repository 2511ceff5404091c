package bench

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestDechunkerSplits: the payload survives chunked coding cut at every
// possible point.
func TestDechunkerSplits(t *testing.T) {
	payload := "event: a\nid: e-1\ndata: {\"x\":1}\n\n:keepalive\n"
	var raw []byte
	for i := 0; i < len(payload); i += 7 {
		part := payload[i:min(i+7, len(payload))]
		raw = fmt.Appendf(raw, "%x\r\n%s\r\n", len(part), part)
	}
	raw = append(raw, "0\r\n\r\n"...)
	for cut := 0; cut <= len(raw); cut++ {
		var d dechunker
		out, err := d.feed(nil, raw[:cut])
		if err == nil {
			out, err = d.feed(out, raw[cut:])
		}
		if err != errChunkedEnd {
			t.Fatalf("cut %d: end: %v", cut, err)
		}
		if string(out) != payload {
			t.Fatalf("cut %d: %q", cut, out)
		}
	}
	var d dechunker
	if _, err := d.feed(nil, []byte("zz\r\n")); err == nil {
		t.Fatal("bad chunk size accepted")
	}
}

// TestScanner: events, multi-line data, comments and CRLF, fed a byte at a
// time and whole.
func TestScanner(t *testing.T) {
	in := "event: a\nid: x-1\ndata: one\ndata: two\n\n:keepalive\r\ndata: three\r\n\r\n"
	want := "a|x-1|one\ntwo;#keepalive;||three;"
	for _, step := range []int{1, len(in)} {
		var got strings.Builder
		sc := sseScanner{
			onEvent:   func(name, id, data []byte) { fmt.Fprintf(&got, "%s|%s|%s;", name, id, data) },
			onComment: func(text []byte) { fmt.Fprintf(&got, "#%s;", text) },
		}
		for i := 0; i < len(in); i += step {
			sc.feed([]byte(in[i:min(i+step, len(in))]))
		}
		// Unlike a browser's, the scanner's id is the event's own: every
		// event the load generator accounts for carries one.
		if got.String() != want {
			t.Fatalf("step %d: got %q, want %q", step, got.String(), want)
		}
	}
}

func TestParsers(t *testing.T) {
	if v, ok := heraldSeq([]byte("ab12cd-345.2")); !ok || v != 345 {
		t.Fatalf("heraldSeq: %v %v", v, ok)
	}
	if _, ok := heraldSeq([]byte("nodash")); ok {
		t.Fatal("heraldSeq accepted an id without '-'")
	}
	data := []byte(`{"sessionId":"s","reason":"1700000000123456789","seq":42}`)
	if v, ok := jsonUint(data, "reason"); !ok || v != 1700000000123456789 {
		t.Fatalf("reason: %v %v", v, ok)
	}
	if v, ok := jsonUint(data, "seq"); !ok || v != 42 {
		t.Fatalf("seq: %v %v", v, ok)
	}
	if _, ok := jsonUint(data, "nope"); ok {
		t.Fatal("found a missing key")
	}
	if !headerHas([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n"), "transfer-encoding", "chunked") {
		t.Fatal("headerHas")
	}
}

// TestCheckCatchesLossAndDuplicates: the accounting is not vacuous.
func TestCheckCatchesLossAndDuplicates(t *testing.T) {
	var want tally
	for k := uint64(10); k < 20; k++ {
		want.addUnordered(k)
	}
	cases := []struct {
		name      string
		keys      []uint64
		lost, dup uint64
	}{
		{"exact", []uint64{10, 11, 12, 13, 14, 15, 16, 17, 18, 19}, 0, 0},
		{"one lost", []uint64{10, 11, 12, 14, 15, 16, 17, 18, 19}, 1, 0},
		{"one repeated", []uint64{10, 11, 12, 12, 13, 14, 15, 16, 17, 18, 19}, 0, 1},
		{"out of order", []uint64{10, 12, 11, 13, 14, 15, 16, 17, 18, 19}, 1, 1},
		{"one swapped for a foreign key", []uint64{10, 11, 12, 13, 14, 15, 16, 17, 18, 99}, 1, 1},
		{"an extra key", []uint64{10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}, 0, 1},
		{"none", nil, 10, 0},
	}
	for _, c := range cases {
		var got tally
		for _, k := range c.keys {
			got.add(k)
		}
		lost, dup := check(want, got)
		if lost != c.lost || dup != c.dup {
			t.Errorf("%s: lost %d dup %d, want %d %d", c.name, lost, dup, c.lost, c.dup)
		}
	}
}

func TestHistQuantiles(t *testing.T) {
	h := newHist()
	for i := 1; i <= 1000; i++ {
		h.add(i, time.Duration(i)*time.Microsecond)
	}
	n, q := h.quantiles(0.5, 0.99)
	if n != 1000 {
		t.Fatalf("count %d", n)
	}
	near := func(got, want time.Duration) bool {
		d := got - want
		return d < want/50 && -d < want/50
	}
	if !near(q[0], 500*time.Microsecond) || !near(q[1], 990*time.Microsecond) {
		t.Fatalf("p50 %v p99 %v", q[0], q[1])
	}
	if m := h.max(); !near(m, time.Millisecond) {
		t.Fatalf("max %v", m)
	}
	for _, v := range []uint64{0, 1, 127, 128, 129, 1000, 1 << 40, 1<<63 + 12345} {
		b := bucketOf(v)
		if b < 0 || b >= histSize {
			t.Fatalf("bucket of %d: %d", v, b)
		}
		if mid := bucketValue(b); v >= 128 && (mid < v-v/64 || mid > v+v/64) {
			t.Fatalf("value %d in bucket %d of middle %d", v, b, mid)
		}
	}
}

func TestFormat(t *testing.T) {
	for v, want := range map[float64]string{1234567: "1,234,567", 2.5: "2.50", 0.1234: "0.123", 12.34: "12.3", -1500: "-1,500"} {
		if got := formatValue(v); got != want {
			t.Errorf("formatValue(%v) = %q, want %q", v, got, want)
		}
	}
	r := &Result{Scenario: "x", Peer: "herald", Params: map[string]string{"a": "1"}}
	r.add("deliveries/s", 1000, "")
	r.Lost = 1
	var b bytes.Buffer
	if err := WriteTable(&b, r); err != nil || !strings.Contains(b.String(), "FAILED: 1 events lost") {
		t.Fatalf("%v\n%s", err, b.String())
	}
}

// TestStartURL: the bench finds the address in the first log line of
// herald serve, as this build writes it and as builds before the
// readiness gate did (so --binary can run them), and in nothing else.
func TestStartURL(t *testing.T) {
	for _, c := range []struct{ line, want string }{
		{`{"time":"t","level":"INFO","msg":"herald starting","url":"http://127.0.0.1:4000","ready":false}`, "http://127.0.0.1:4000"},
		{`{"time":"t","level":"INFO","msg":"herald listening","url":"http://127.0.0.1:39367"}`, "http://127.0.0.1:39367"},
		{`{"time":"t","level":"INFO","msg":"caught up","url":"http://127.0.0.1:4000"}`, ""},
		{`{"msg":"herald starting"}`, ""},
		{`time=t level=INFO msg="herald starting" url=http://127.0.0.1:4000`, ""},
		{``, ""},
	} {
		if got := startURL(c.line); got != c.want {
			t.Errorf("startURL(%s) = %q, want %q", c.line, got, c.want)
		}
	}
}
