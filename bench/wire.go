package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"time"
)

// errChunkedEnd reports the last (zero-size) chunk of a chunked body: the
// server ended the response.
var errChunkedEnd = errors.New("bench: end of chunked body")

// dechunker undoes HTTP/1.1 chunked transfer coding incrementally: feed it
// raw bytes as they are read, it appends the payload to dst.
type dechunker struct {
	state int // 0 size line, 1 data, 2 CRLF after data, 3 extension/LF of size line
	size  int // size being parsed (state 0/3) or bytes left (state 1)
	crlf  int // bytes of CRLF left to skip (state 2)
}

func (d *dechunker) feed(dst, raw []byte) ([]byte, error) {
	for len(raw) > 0 {
		switch d.state {
		case 0, 3: // chunk-size [; ext] CRLF
			c := raw[0]
			raw = raw[1:]
			switch {
			case c == '\n':
				if d.size == 0 {
					return dst, errChunkedEnd
				}
				d.state = 1
			case d.state == 3 || c == '\r':
				// extension or the CR before LF: skip
			case c == ';' || c == ' ' || c == '\t':
				d.state = 3
			default:
				v := hexVal(c)
				if v < 0 || d.size > 1<<26 {
					return dst, fmt.Errorf("bench: bad chunk size byte %q", c)
				}
				d.size = d.size<<4 | v
			}
		case 1:
			n := min(d.size, len(raw))
			dst = append(dst, raw[:n]...)
			raw = raw[n:]
			d.size -= n
			if d.size == 0 {
				d.state, d.crlf = 2, 2
			}
		case 2: // CRLF (or a lone LF) after the chunk's data
			c := raw[0]
			raw = raw[1:]
			switch {
			case c == '\r' && d.crlf == 2:
				d.crlf = 1
			case c == '\n':
				d.state, d.size = 0, 0
			default:
				return dst, fmt.Errorf("bench: chunk data not followed by CRLF")
			}
		}
	}
	return dst, nil
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// sseScanner is a minimal event-stream scanner for the load generator: LF
// line endings (what herald and nginx send), "event", "id", "data" fields
// and comments. It is much cheaper than the WHATWG Reader and allocates
// nothing once its buffers have grown.
type sseScanner struct {
	pending []byte // an incomplete line carried over to the next feed
	name    []byte
	id      []byte
	data    []byte
	hasData bool

	onEvent   func(name, id, data []byte)
	onComment func(text []byte)
}

// feed scans payload bytes; complete events and comments are reported.
func (s *sseScanner) feed(p []byte) {
	if len(s.pending) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			s.pending = append(s.pending, p...)
			return
		}
		s.pending = append(s.pending, p[:i]...)
		s.line(s.pending)
		s.pending = s.pending[:0]
		p = p[i+1:]
	}
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			s.pending = append(s.pending, p...)
			return
		}
		s.line(p[:i])
		p = p[i+1:]
	}
}

func (s *sseScanner) line(l []byte) {
	if n := len(l); n > 0 && l[n-1] == '\r' {
		l = l[:n-1]
	}
	if len(l) == 0 {
		if s.hasData && s.onEvent != nil {
			s.onEvent(s.name, s.id, s.data)
		}
		s.name, s.id, s.data, s.hasData = s.name[:0], s.id[:0], s.data[:0], false
		return
	}
	if l[0] == ':' {
		if s.onComment != nil {
			s.onComment(l[1:])
		}
		return
	}
	field, value := l, []byte(nil)
	if i := bytes.IndexByte(l, ':'); i >= 0 {
		field, value = l[:i], l[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(field) {
	case "data":
		if s.hasData {
			s.data = append(s.data, '\n')
		}
		s.data = append(s.data, value...)
		s.hasData = true
	case "id":
		s.id = append(s.id[:0], value...)
	case "event":
		s.name = append(s.name[:0], value...)
	}
}

// sseConn is one raw TCP SSE subscription: an HTTP/1.1 GET written by
// hand, the response headers checked, then the body dechunked and scanned.
type sseConn struct {
	c       net.Conn
	chunked bool
	dc      dechunker
	sc      sseScanner
	raw     []byte
	payload []byte
	opened  time.Time      // when the 200 headers were read
	reads   *atomic.Uint64 // counts the reads that returned data (nil: none)
}

// sseRequest builds the GET request of an SSE subscription.
func sseRequest(host, path, token, lastID string) []byte {
	b := make([]byte, 0, 256)
	b = append(b, "GET "...)
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\nAccept: text/event-stream\r\n"...)
	if token != "" {
		b = append(b, "Authorization: Bearer "...)
		b = append(b, token...)
		b = append(b, "\r\n"...)
	}
	if lastID != "" {
		b = append(b, "Last-Event-ID: "...)
		b = append(b, lastID...)
		b = append(b, "\r\n"...)
	}
	return append(b, "\r\n"...)
}

// dialer spreads connections over loopback source addresses 127.0.0.2…,
// so a single source address's ephemeral ports are never the limit.
type dialer struct {
	sources int
}

func (d dialer) dial(addr string, i int) (net.Conn, error) {
	return d.dialContext(context.Background(), addr, i)
}

func (d dialer) dialContext(ctx context.Context, addr string, i int) (net.Conn, error) {
	n := max(d.sources, 1)
	nd := net.Dialer{Timeout: 10 * time.Second,
		LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i%n))}}
	return nd.DialContext(ctx, "tcp", addr)
}

// openSSE dials addr, sends req and reads the response headers: a 200 is
// required. Whatever body bytes came with the headers are scanned at once.
func openSSE(d dialer, addr string, i int, req []byte, bufSize int, sc sseScanner) (*sseConn, error) {
	c, err := d.dial(addr, i)
	if err != nil {
		return nil, err
	}
	s := &sseConn{c: c, sc: sc, raw: make([]byte, bufSize)}
	if err := s.handshake(req); err != nil {
		c.Close()
		return nil, err
	}
	return s, nil
}

func (s *sseConn) handshake(req []byte) error {
	_ = s.c.SetDeadline(time.Now().Add(30 * time.Second))
	defer s.c.SetDeadline(time.Time{})
	if _, err := s.c.Write(req); err != nil {
		return err
	}
	n := 0
	for {
		if n == len(s.raw) {
			return fmt.Errorf("response headers longer than %d bytes", len(s.raw))
		}
		m, err := s.c.Read(s.raw[n:])
		if err != nil {
			return fmt.Errorf("reading response headers: %w", err)
		}
		n += m
		end := bytes.Index(s.raw[:n], []byte("\r\n\r\n"))
		if end < 0 {
			continue
		}
		head := s.raw[:end+2]
		status, _, _ := bytes.Cut(head, []byte("\r\n"))
		if !bytes.HasPrefix(status, []byte("HTTP/1.1 200")) {
			return fmt.Errorf("response %q", status)
		}
		s.chunked = headerHas(head, "transfer-encoding", "chunked")
		s.opened = time.Now()
		return s.body(s.raw[end+4 : n])
	}
}

// headerHas reports whether the header block has name with a value
// containing want (both compared case-insensitively).
func headerHas(head []byte, name, want string) bool {
	for line := range bytes.SplitSeq(head, []byte("\r\n")) {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if ok && bytes.EqualFold(bytes.TrimSpace(k), []byte(name)) &&
			bytes.Contains(bytes.ToLower(v), []byte(want)) {
			return true
		}
	}
	return false
}

// body scans raw body bytes.
func (s *sseConn) body(raw []byte) error {
	if len(raw) == 0 {
		return nil
	}
	if !s.chunked {
		s.sc.feed(raw)
		return nil
	}
	var err error
	s.payload, err = s.dc.feed(s.payload[:0], raw)
	s.sc.feed(s.payload)
	return err
}

// run reads and scans until the connection fails or the server ends the
// response (io.EOF or errChunkedEnd).
//
// (Reading the raw descriptor and skipping the read that would only return
// EAGAIN after a short one is unsafe: RawConn.Read resets the poller's
// readiness before calling back, so data that arrived in between would wait
// for the next edge.)
func (s *sseConn) run() error {
	for {
		n, err := s.c.Read(s.raw)
		if n > 0 {
			if s.reads != nil {
				s.reads.Add(1)
			}
			if berr := s.body(s.raw[:n]); berr != nil {
				return berr
			}
		}
		if err != nil {
			return err
		}
	}
}

// parseUint parses leading decimal digits of b.
func parseUint(b []byte) (uint64, bool) {
	var v uint64
	i := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		v = v*10 + uint64(b[i]-'0')
	}
	return v, i > 0
}

// jsonUint finds "key":N or "key":"N" in a flat JSON object and returns N.
func jsonUint(data []byte, key string) (uint64, bool) {
	var pat [64]byte
	p := append(pat[:0], '"')
	p = append(p, key...)
	p = append(p, '"', ':')
	i := bytes.Index(data, p)
	if i < 0 {
		return 0, false
	}
	rest := data[i+len(p):]
	for len(rest) > 0 && (rest[0] == ' ' || rest[0] == '"') {
		rest = rest[1:]
	}
	return parseUint(rest)
}

// heraldSeq returns the store sequence of a herald event id "<epoch>-<seq>[.<idx>]".
func heraldSeq(id []byte) (uint64, bool) {
	i := bytes.LastIndexByte(id, '-')
	if i < 0 {
		return 0, false
	}
	return parseUint(id[i+1:])
}

// itoa is strconv.FormatUint for brevity.
func itoa(v uint64) string { return strconv.FormatUint(v, 10) }
