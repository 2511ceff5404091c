// Package netlimit guards herald's listener against hostile clients: a cap
// on open connections in total and on unauthenticated ones per source
// address, refusals that cost one accept and one close, and a deadline on
// request bodies.
package netlimit

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Refusal reasons, the reason label of herald_connections_refused_total.
const (
	ReasonTotal = "max_connections"  // --max-connections reached
	ReasonPerIP = "max_conns_per_ip" // the source address has too many unauthenticated connections
	ReasonFDs   = "out_of_fds"       // accept failed: the process or system is out of descriptors
)

// Reasons lists every refusal reason.
var Reasons = []string{ReasonTotal, ReasonPerIP, ReasonFDs}

// warnEvery bounds the warnings about refusals to one a second per reason.
const warnEvery = time.Second

// refusalWriteTimeout bounds the write of the 503 to a refused connection
// (a fresh socket takes it at once; this only guards against surprises).
const refusalWriteTimeout = 50 * time.Millisecond

// Config sets a Listener's caps.
type Config struct {
	// MaxConns caps open connections in total; 0 means no cap.
	MaxConns int
	// MaxPerIP caps the connections of one source address that have not
	// made an authenticated request yet (see Authenticated); 0 means no cap.
	MaxPerIP int
	// Refusal is written to a refused connection before it is closed
	// (nil: it is only closed, as over TLS, where plain text is noise).
	Refusal []byte
	// Log gets a warning (at most once a second per reason) when
	// connections are refused or accept fails for want of descriptors.
	Log *slog.Logger
}

// Listener is a net.Listener that counts its open connections and refuses
// new ones over its caps: they are accepted and closed at once, which
// costs a descriptor for a moment and no goroutine.
type Listener struct {
	net.Listener
	cfg     Config
	open    atomic.Int64
	refused [3]atomic.Uint64 // by index in Reasons
	warned  [3]atomic.Int64  // unix ns of the last warning, by index in Reasons

	mu     sync.Mutex
	unauth map[[16]byte]int // unauthenticated open connections by source (see Conn.src)
}

// New wraps ln.
func New(ln net.Listener, cfg Config) *Listener {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Listener{Listener: ln, cfg: cfg, unauth: map[[16]byte]int{}}
}

// Open is the number of open connections.
func (l *Listener) Open() int64 { return l.open.Load() }

// Refused is the number of connections refused for reason.
func (l *Listener) Refused(reason string) uint64 {
	for i, r := range Reasons {
		if r == reason {
			return l.refused[i].Load()
		}
	}
	return 0
}

// Accept returns the next connection within the caps. A failure for want
// of descriptors is returned as is (net/http backs off and retries), with
// a warning at most once a second.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				l.refused[2].Add(1)
				l.warn(2, "accepting connections fails: out of file descriptors; lower --max-connections or raise the open-files limit", err)
			}
			return nil, err
		}
		if lc := l.admit(c); lc != nil {
			return lc, nil
		}
	}
}

// admit counts c in, or refuses it (nil).
func (l *Listener) admit(c net.Conn) *Conn {
	if n := l.open.Add(1); l.cfg.MaxConns > 0 && n > int64(l.cfg.MaxConns) {
		l.open.Add(-1)
		l.refuse(c, 0)
		return nil
	}
	lc := &Conn{Conn: c, l: l}
	if src := sourceOf(c); l.cfg.MaxPerIP > 0 && src.IsValid() {
		lc.src = src.As16()
		l.mu.Lock()
		over := l.unauth[lc.src] >= l.cfg.MaxPerIP
		if !over {
			l.unauth[lc.src]++
		}
		l.mu.Unlock()
		if over {
			l.open.Add(-1)
			l.refuse(c, 1)
			return nil
		}
		lc.state.Store(connCounted)
	}
	return lc
}

func (l *Listener) refuse(c net.Conn, reason int) {
	l.refused[reason].Add(1)
	if l.cfg.Refusal != nil {
		_ = c.SetWriteDeadline(time.Now().Add(refusalWriteTimeout))
		_, _ = c.Write(l.cfg.Refusal)
	}
	_ = c.Close()
	if reason == 0 {
		l.warn(reason, "refusing connections: --max-connections reached", nil)
	} else {
		l.warn(reason, "refusing connections: a source address is at --max-conns-per-ip unauthenticated connections", nil)
	}
}

// warn logs msg for reason, at most once every warnEvery.
func (l *Listener) warn(reason int, msg string, err error) {
	now := time.Now().UnixNano()
	last := l.warned[reason].Load()
	if now-last < int64(warnEvery) || !l.warned[reason].CompareAndSwap(last, now) {
		return
	}
	args := []any{"reason", Reasons[reason], "open_connections", l.open.Load(), "refused_total", l.refused[reason].Load()}
	if err != nil {
		args = append(args, "err", err)
	}
	l.cfg.Log.Warn(msg, args...)
}

// uncount takes an unauthenticated connection of src off its count.
func (l *Listener) uncount(src [16]byte) {
	l.mu.Lock()
	if n := l.unauth[src] - 1; n > 0 {
		l.unauth[src] = n
	} else {
		delete(l.unauth, src)
	}
	l.mu.Unlock()
}

// sourceOf is c's remote address (IPv4-mapped IPv6 unmapped), or the zero
// Addr when c is not TCP.
func sourceOf(c net.Conn) netip.Addr {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			return ip.Unmap()
		}
	}
	return netip.Addr{}
}

// Conn is a connection of a Listener: closing it gives its place back.
// A served SSE stream keeps its Conn for its whole life, so it is kept
// small (48 bytes): the source as 16 bytes rather than a netip.Addr (24;
// an IPv6 zone does not count), both flags in one word.
type Conn struct {
	net.Conn
	l     *Listener
	src   [16]byte      // source address (IPv4 mapped into IPv6), when counted
	state atomic.Uint32 // connCounted, connClosed
}

// Conn.state bits.
const (
	connCounted uint32 = 1 << iota // on its source's unauthenticated count
	connClosed
)

// Close closes the connection and gives its place back (once).
func (c *Conn) Close() error {
	for {
		st := c.state.Load()
		if st&connClosed != 0 {
			break
		}
		if c.state.CompareAndSwap(st, connClosed) { // and off the count
			if st&connCounted != 0 {
				c.l.uncount(c.src)
			}
			c.l.open.Add(-1)
			break
		}
	}
	return c.Conn.Close()
}

// SyscallConn exposes the raw connection beneath (herald's stream writers
// write it without waiting); an error when there is none.
func (c *Conn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errNoRawConn
}

// CloseWrite shuts down the writing side, when the connection beneath can.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errNoRawConn
}

var errNoRawConn = errors.New("netlimit: the connection beneath has no such operation")

// authenticated takes the connection off its source's unauthenticated
// count.
func (c *Conn) authenticated() {
	for {
		st := c.state.Load()
		if st&connCounted == 0 {
			return
		}
		if c.state.CompareAndSwap(st, st&^connCounted) {
			c.l.uncount(c.src)
			return
		}
	}
}

type connKey struct{}

// ConnContext is http.Server.ConnContext: it records the Listener's
// connection under c (c itself, or a TLS connection over it) in ctx, for
// Authenticated.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	for c != nil {
		if lc, ok := c.(*Conn); ok {
			return context.WithValue(ctx, connKey{}, lc)
		}
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		c = u.NetConn()
	}
	return ctx
}

// Authenticated notes that the connection of a request context (see
// ConnContext) made an authenticated request: it no longer counts against
// its source's cap of unauthenticated connections. Without such a
// connection it does nothing.
func Authenticated(ctx context.Context) {
	if c, ok := ctx.Value(connKey{}).(*Conn); ok {
		c.authenticated()
	}
}
