package bench

import (
	"bytes"
	"fmt"
	"net"
	"strconv"
	"time"
)

// rawHTTP is a minimal HTTP/1.1 keep-alive client for the producers: one
// connection, one request at a time, requests written by hand. It costs
// the load generator a few microseconds per request where net/http costs
// tens, so producers do not steal the server's CPU.
type rawHTTP struct {
	d     dialer
	addr  string
	host  string
	token string
	// header, when set, is one more request header line ("Name: value").
	header string
	idx    int

	c   net.Conn
	req []byte
	buf []byte // read buffer; buf[r:w] is unread
	r   int
	w   int
	dc  dechunker
}

func newRawHTTP(d dialer, addr, token string, idx int) *rawHTTP {
	return &rawHTTP{d: d, addr: addr, host: addr, token: token, idx: idx, buf: make([]byte, 16<<10)}
}

// Close closes the connection.
func (h *rawHTTP) Close() {
	if h.c != nil {
		h.c.Close()
		h.c = nil
	}
}

// do sends one request and returns the status and body (valid until the
// next call). A broken keep-alive connection is redialled once.
func (h *rawHTTP) do(method, path, ctype string, body []byte) (int, []byte, error) {
	for attempt := 0; ; attempt++ {
		st, b, err := h.once(method, path, ctype, body)
		if err == nil || attempt == 1 {
			return st, b, err
		}
		h.Close()
	}
}

func (h *rawHTTP) once(method, path, ctype string, body []byte) (int, []byte, error) {
	if h.c == nil {
		c, err := h.d.dial(h.addr, h.idx)
		if err != nil {
			return 0, nil, err
		}
		h.c, h.r, h.w = c, 0, 0
	}
	q := h.req[:0]
	q = append(q, method...)
	q = append(q, ' ')
	q = append(q, path...)
	q = append(q, " HTTP/1.1\r\nHost: "...)
	q = append(q, h.host...)
	if h.token != "" {
		q = append(q, "\r\nAuthorization: Bearer "...)
		q = append(q, h.token...)
	}
	if h.header != "" {
		q = append(q, "\r\n"...)
		q = append(q, h.header...)
	}
	if body != nil {
		q = append(q, "\r\nContent-Type: "...)
		q = append(q, ctype...)
		q = append(q, "\r\nContent-Length: "...)
		q = strconv.AppendInt(q, int64(len(body)), 10)
	}
	q = append(q, "\r\n\r\n"...)
	q = append(q, body...)
	h.req = q
	_ = h.c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := h.c.Write(q); err != nil {
		return 0, nil, err
	}
	return h.response()
}

// fill reads more bytes into buf, compacting it first.
func (h *rawHTTP) fill() error {
	if h.r > 0 {
		h.w = copy(h.buf, h.buf[h.r:h.w])
		h.r = 0
	}
	if h.w == len(h.buf) {
		h.buf = append(h.buf, make([]byte, len(h.buf))...)
	}
	n, err := h.c.Read(h.buf[h.w:])
	h.w += n
	if n > 0 {
		return nil
	}
	return err
}

func (h *rawHTTP) response() (int, []byte, error) {
	var end int
	for {
		// A chunked body's final CRLF may arrive late: skip it.
		for h.r < h.w && (h.buf[h.r] == '\r' || h.buf[h.r] == '\n') {
			h.r++
		}
		end = bytes.Index(h.buf[h.r:h.w], []byte("\r\n\r\n"))
		if end >= 0 {
			break
		}
		if err := h.fill(); err != nil {
			return 0, nil, err
		}
	}
	head := h.buf[h.r : h.r+end+2]
	if len(head) < 12 || !bytes.HasPrefix(head, []byte("HTTP/1.")) {
		return 0, nil, fmt.Errorf("bad response %q", head)
	}
	status, _ := strconv.Atoi(string(head[9:12]))
	clen := -1
	chunked := false
	closeAfter := false
	for line := range bytes.SplitSeq(head, []byte("\r\n")) {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("content-length")):
			clen, _ = strconv.Atoi(string(v))
		case bytes.EqualFold(k, []byte("transfer-encoding")):
			chunked = bytes.Contains(bytes.ToLower(v), []byte("chunked"))
		case bytes.EqualFold(k, []byte("connection")):
			closeAfter = bytes.EqualFold(v, []byte("close"))
		}
	}
	h.r += end + 4
	var body []byte
	switch {
	case chunked:
		h.dc = dechunker{}
		var out []byte
		for {
			var err error
			out, err = h.dc.feed(out, h.buf[h.r:h.w])
			if err == errChunkedEnd {
				// The trailer's final CRLF may still be unread; skip it.
				h.r = h.w
				break
			}
			h.r = h.w
			if err != nil {
				return 0, nil, err
			}
			if err := h.fill(); err != nil {
				return 0, nil, err
			}
		}
		body = out
	case clen >= 0:
		for h.w-h.r < clen {
			if err := h.fill(); err != nil {
				return 0, nil, err
			}
		}
		body = h.buf[h.r : h.r+clen]
		h.r += clen
	default:
		closeAfter = true
	}
	if closeAfter {
		h.Close()
	}
	return status, body, nil
}
