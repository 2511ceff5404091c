package netlimit

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// serveConns accepts on l until it closes, handing each connection to
// conns.
func serveConns(l *Listener, conns chan<- net.Conn) {
	for {
		c, err := l.Accept()
		if err != nil {
			close(conns)
			return
		}
		conns <- c
	}
}

func listen(t *testing.T, cfg Config) (*Listener, chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := New(ln, cfg)
	conns := make(chan net.Conn, 64)
	go serveConns(l, conns)
	t.Cleanup(func() { l.Close() })
	return l, conns
}

func dialFrom(t *testing.T, l *Listener, last byte) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, last)}}
	c, err := d.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// answer reads what the server sent c before closing it ("" and false
// when it kept c open for 300ms).
func answer(c net.Conn) (string, bool) {
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	b, err := io.ReadAll(c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return "", false
	}
	return string(b), true
}

func TestListenerCaps(t *testing.T) {
	refusal := Refusal503("too many connections")
	t.Run("total", func(t *testing.T) {
		l, conns := listen(t, Config{MaxConns: 3, Refusal: refusal})
		var server []net.Conn
		for i := range 3 {
			dialFrom(t, l, 2+byte(i))
			server = append(server, <-conns)
		}
		got, closed := answer(dialFrom(t, l, 9))
		if !closed || !strings.HasPrefix(got, "HTTP/1.1 503 ") || !strings.Contains(got, "Retry-After: 1\r\n") {
			t.Fatalf("connection past the cap: closed=%v, read %q", closed, got)
		}
		if l.Open() != 3 || l.Refused(ReasonTotal) != 1 {
			t.Errorf("open %d refused %d, want 3 and 1", l.Open(), l.Refused(ReasonTotal))
		}
		server[0].Close()
		server[0].Close() // a second close gives nothing back twice
		c := dialFrom(t, l, 9)
		if _, closed := answer(c); closed {
			t.Fatal("refused although a connection closed")
		}
		if l.Open() != 3 {
			t.Errorf("open %d, want 3", l.Open())
		}
	})
	t.Run("per address, until authenticated", func(t *testing.T) {
		l, conns := listen(t, Config{MaxPerIP: 2})
		var server []net.Conn
		for range 2 {
			dialFrom(t, l, 2)
			server = append(server, <-conns)
		}
		if got, closed := answer(dialFrom(t, l, 2)); !closed || got != "" {
			t.Fatalf("third unauthenticated connection of one address: closed=%v read %q", closed, got)
		}
		if _, closed := answer(dialFrom(t, l, 3)); closed {
			t.Fatal("another address refused")
		}
		<-conns
		Authenticated(ConnContext(context.Background(), server[0]))
		Authenticated(ConnContext(context.Background(), server[0])) // once only
		dialFrom(t, l, 2)
		<-conns
		if _, closed := answer(dialFrom(t, l, 2)); !closed {
			t.Fatal("an authenticated connection freed more than its own place")
		}
		if l.Refused(ReasonPerIP) != 2 {
			t.Errorf("refused %d, want 2", l.Refused(ReasonPerIP))
		}
		server[1].Close() // unauthenticated: its place comes back
		dialFrom(t, l, 2)
		if c := <-conns; c == nil {
			t.Fatal("no place after an unauthenticated connection closed")
		}
	})
}

func TestBudget(t *testing.T) {
	for _, tc := range []struct {
		limit    uint64
		reserve  uint64
		maxConns int
	}{
		{300, 150, 150},
		{1024, 256, 768},
		{20000, 312, 19688},
		{1 << 20, 16384, 1<<20 - 16384},
	} {
		if r, m := Reserve(tc.limit), MaxConns(tc.limit); r != tc.reserve || m != tc.maxConns {
			t.Errorf("limit %d: reserve %d, max %d; want %d, %d", tc.limit, r, m, tc.reserve, tc.maxConns)
		}
	}
}

// TestBodyDeadline: a body that does not come within the deadline fails
// to read and the connection is cut; a request without a body (a stream)
// is not cut.
func TestBodyDeadline(t *testing.T) {
	const d = 300 * time.Millisecond
	readErr := make(chan error, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		readErr <- err
		w.WriteHeader(http.StatusBadRequest)
	})
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		http.NewResponseController(w).Flush()
		<-r.Context().Done()
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: BodyDeadline(mux, d), ReadHeaderTimeout: d}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	stream, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	io.WriteString(stream, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc")
	select {
	case err := <-readErr:
		if err == nil {
			t.Fatal("the body read succeeded")
		}
	case <-time.After(10 * d):
		t.Fatalf("the body read did not fail within %v", 10*d)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * d))
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("the connection was not closed: %v", err)
	}
	if held := time.Since(start); held < d || held > 5*d {
		t.Errorf("cut after %v, want about %v", held, d)
	}
	time.Sleep(2 * d)
	_ = stream.SetReadDeadline(time.Now().Add(d))
	b := make([]byte, 512)
	n, err := stream.Read(b)
	if !strings.HasPrefix(string(b[:n]), "HTTP/1.1 200") {
		t.Fatalf("stream read %q %v", b[:n], err)
	}
	if _, err := stream.Read(b); err == nil || !err.(net.Error).Timeout() {
		t.Fatalf("the stream, open for %v without a body, was cut: %v", 3*d, err)
	}
}

// TestConnKeepsRawConn: a Listener's TCP connection still exposes its raw
// connection (herald's stream writers write it without waiting) and
// CloseWrite.
func TestConnKeepsRawConn(t *testing.T) {
	l, conns := listen(t, Config{MaxConns: 10})
	dialFrom(t, l, 2)
	c := <-conns
	sc, ok := c.(syscall.Conn)
	if !ok {
		t.Fatal("not a syscall.Conn")
	}
	raw, err := sc.SyscallConn()
	if err != nil || raw == nil {
		t.Fatalf("SyscallConn: %v", err)
	}
	if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		t.Fatalf("CloseWrite: %v", err)
	}
}

// TestConnGivesBackOnce: a connection's place and its source's count come
// back once, whatever the order of Authenticated and (repeated) Close; a
// Conn stays 48 bytes (every served SSE stream keeps one).
func TestConnGivesBackOnce(t *testing.T) {
	if n := unsafe.Sizeof(Conn{}); n > 48 {
		t.Errorf("Conn is %d bytes, want at most 48 (a size class of 48)", n)
	}
	l, conns := listen(t, Config{MaxPerIP: 5})
	var server []net.Conn
	for range 4 {
		dialFrom(t, l, 4)
		server = append(server, <-conns)
	}
	count := func() int {
		l.mu.Lock()
		defer l.mu.Unlock()
		n := 0
		for _, v := range l.unauth {
			n += v
		}
		return n
	}
	if count() != 4 || l.Open() != 4 {
		t.Fatalf("4 connections: %d counted unauthenticated, %d open", count(), l.Open())
	}
	server[0].Close()
	server[0].Close()
	Authenticated(ConnContext(context.Background(), server[1]))
	server[1].Close()
	server[1].Close()
	Authenticated(ConnContext(context.Background(), server[2]))
	Authenticated(ConnContext(context.Background(), server[2]))
	if count() != 1 || l.Open() != 2 {
		t.Fatalf("after closes and authentications: %d counted unauthenticated, %d open; want 1 and 2", count(), l.Open())
	}
	server[2].Close()
	server[3].Close()
	if count() != 0 || l.Open() != 0 || len(l.unauth) != 0 {
		t.Fatalf("all closed: %d counted unauthenticated (%d sources), %d open", count(), len(l.unauth), l.Open())
	}
}
