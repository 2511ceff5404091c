package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	sse "github.com/tmaxmax/go-sse"
)

// The subscribers' implementations (Options.Client, herald bench --client).
const (
	// ClientDecode is the default: the bench's own raw TCP reader and SSE
	// scanner, decoding each event's data as JSON as a page does with
	// what its EventSource hands it.
	ClientDecode = "decode"
	// ClientGoSSE is an independent client to cross-check ClientDecode:
	// github.com/tmaxmax/go-sse's connection handling (net/http) and SSE
	// parser, one reader per subscriber, decoding each event's data as
	// JSON too.
	ClientGoSSE = "go-sse"
	// ClientFast is the raw reader alone: it scans frames and decodes
	// nothing. Not a real client: it reads faster than any page would.
	ClientFast = "fast"
)

// Clients are the valid Options.Client values.
var Clients = []string{ClientDecode, ClientGoSSE, ClientFast}

func checkClient(c string) error {
	switch c {
	case "", ClientDecode, ClientGoSSE, ClientFast:
		return nil
	}
	return fmt.Errorf("unknown client %q: use %s, %s or %s", c, ClientDecode, ClientGoSSE, ClientFast)
}

// ClientLabel is how results name a client (the "client" param).
func ClientLabel(c string) string {
	switch c {
	case ClientDecode, "":
		return "decode (raw reader, each event's data decoded as JSON)"
	case ClientGoSSE:
		return "go-sse (tmaxmax/go-sse v0.12.0 on net/http, each event's data decoded as JSON)"
	case ClientFast:
		return "fast (raw reader: scans frames, decodes nothing — not a real client)"
	}
	return c
}

// newHTTPClient is the go-sse subscribers' HTTP client, one per pool: a
// transport of its own that spreads connections over the loopback source
// addresses like the raw readers (in turn: net/http does not say which
// subscriber dials), asks for no compression (the raw readers do not
// either; neither server compresses event streams) and bounds the wait
// for response headers. Each subscriber holds one connection.
func newHTTPClient(d dialer, reads *[histShards]paddedCounter) *http.Client {
	var next atomic.Uint64
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			i := int(next.Add(1) - 1)
			c, err := d.dialContext(ctx, addr, i)
			if err != nil {
				return nil, err
			}
			return countingConn{c, &reads[i%histShards].n}, nil
		},
		DisableCompression:    true,
		ResponseHeaderTimeout: 30 * time.Second,
		MaxIdleConnsPerHost:   -1,
	}
	return &http.Client{Transport: tr}
}

// countingConn counts the reads that returned data.
type countingConn struct {
	net.Conn
	reads *atomic.Uint64
}

func (c countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.reads.Add(1)
	}
	return n, err
}

// startGoSSE connects the subscriber with go-sse: a Connection with its
// own reconnection (Last-Event-ID of the last event received, at most
// maxReconnects retries in a row, 100 ms apart plus jitter), every event
// handed to s.event. It returns once the first response's headers were
// accepted (200, text/event-stream) or the connection failed.
//
// go-sse's parser drops comments: keepalives are not seen. It dispatches
// an event with a retry or id field but no data; an EventSource does not,
// and neither does this reader (herald may send a bare retry: first).
func (s *sub) startGoSSE(ctx context.Context) error {
	p := s.p
	path, token := p.tgt.feedHTTP()
	req, err := http.NewRequestWithContext(p.ctx, http.MethodGet, "http://"+p.tgt.addr()+path, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if p.startID != "" {
		req.Header.Set("Last-Event-ID", p.startID)
	}
	ready := make(chan struct{})
	var once sync.Once
	c := &sse.Client{
		HTTPClient: p.hc,
		OnRetry:    func(error, time.Duration) { s.reconnects.Add(1) },
		ResponseValidator: func(r *http.Response) error {
			if err := sse.DefaultValidator(r); err != nil {
				return err
			}
			once.Do(func() { close(ready) })
			return nil
		},
		Backoff: sse.Backoff{InitialInterval: 100 * time.Millisecond, Multiplier: 1, MaxRetries: p.maxReconnects},
	}
	conn := c.NewConnection(req)
	conn.SubscribeToAll(func(ev sse.Event) {
		if ev.Data == "" {
			return
		}
		s.event([]byte(ev.LastEventID), []byte(ev.Data))
	})
	done := make(chan error, 1)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		err := conn.Connect()
		if !p.closing.Load() {
			s.err = fmt.Errorf("stream ended (%v); gave up after %d reconnects", err, s.reconnects.Load())
			s.failed.Store(true)
		}
		done <- err
	}()
	t := time.NewTimer(40 * time.Second)
	defer t.Stop()
	select {
	case <-ready:
		return nil
	case err := <-done:
		if err == nil {
			err = errors.New("connection ended before its headers")
		}
		return err
	case <-t.C:
		return errors.New("no response headers in 40s")
	case <-ctx.Done():
		return ctx.Err()
	}
}
