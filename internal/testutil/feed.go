package testutil

import (
	"bufio"
	"context"
	"net/http"
	"testing"

	"github.com/herald-sse/herald/sse"
)

// Feed is an open SSE response read with the WHATWG parser.
type Feed struct {
	Resp *http.Response
	R    *sse.Reader
	stop context.CancelFunc
}

// OpenFeed GETs an SSE path and checks the 200 and Content-Type.
func (s *Server) OpenFeed(tb testing.TB, path, token string, header map[string]string) *Feed {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	resp := s.Get(tb, ctx, path, token, header)
	if resp.StatusCode != http.StatusOK {
		p := Problem(tb, resp)
		cancel()
		tb.Fatalf("GET %s: %d %s", path, resp.StatusCode, p.Detail)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream; charset=utf-8" {
		cancel()
		tb.Fatalf("Content-Type %q", ct)
	}
	f := &Feed{Resp: resp, R: sse.NewReader(bufio.NewReaderSize(resp.Body, 4096)), stop: cancel}
	tb.Cleanup(f.Close)
	return f
}

// Next returns the next event (io.EOF at the end of the stream).
func (f *Feed) Next() (sse.Event, error) { return f.R.Next() }

// Close cuts the connection.
func (f *Feed) Close() {
	f.stop()
	f.Resp.Body.Close()
}
