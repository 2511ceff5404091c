package api_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/herald-sse/herald/internal/testutil"
)

// rawProducer is a minimal HTTP/1.1 keep-alive producer: requests are
// written by hand so the benchmark's own CPU stays small beside the server's.
type rawProducer struct {
	c   net.Conn
	br  *bufio.Reader
	req []byte
}

func dialProducer(tb testing.TB, url string) *rawProducer {
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		tb.Fatal(err)
	}
	return &rawProducer{c: c, br: bufio.NewReaderSize(c, 4096)}
}

// post sends one request and returns the status and body.
func (p *rawProducer) post(host, path, token string, body []byte) (int, []byte, error) {
	q := p.req[:0]
	q = append(q, "POST "...)
	q = append(q, path...)
	q = append(q, " HTTP/1.1\r\nHost: "...)
	q = append(q, host...)
	q = append(q, "\r\nAuthorization: Bearer "...)
	q = append(q, token...)
	q = append(q, "\r\nContent-Type: application/json\r\nContent-Length: "...)
	q = strconv.AppendInt(q, int64(len(body)), 10)
	q = append(q, "\r\n\r\n"...)
	q = append(q, body...)
	p.req = q
	if _, err := p.c.Write(q); err != nil {
		return 0, nil, err
	}
	resp, err := http.ReadResponse(p.br, nil)
	if err != nil {
		return 0, nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, b, err
}

// BenchmarkSessionIngest: 64 producers on their own keep-alive loopback
// connections report session lifecycle events (POST /v1/sessions/events),
// each on its own session, as fast as they are acknowledged (durably
// appended per the default fsync policy). One op is one acknowledged
// report. Profile the server's write path with -cpuprofile.
func BenchmarkSessionIngest(b *testing.B) {
	s := testutil.Start(b)
	s.CreateDomain(b, "d")
	s.CreateGroup(b, "d", "g")
	svc := s.CreateKey(b, "service", "d", nil, "")
	owner := s.CreateKey(b, "user", "d", []string{"g"}, "")
	host := strings.TrimPrefix(s.URL, "http://")
	const producers = 64
	steps := []string{"session_enqueued", "session_preparing", "session_creating", "session_started", "session_terminated"}
	conns := make([]*rawProducer, producers)
	for i := range conns {
		conns[i] = dialProducer(b, s.URL)
		defer conns[i].c.Close()
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	for i, p := range conns {
		wg.Go(func() {
			var body []byte
			for n := 0; next.Add(1) <= int64(b.N); n++ {
				ev := steps[n%len(steps)]
				body = fmt.Appendf(body[:0], `{"sessionId":"b%d","ownerAccessKey":%q,"group":"g","event":%q,"reason":"r%d"`,
					i, owner.AccessKey, ev, n)
				if ev == "session_terminated" {
					body = append(body, `,"result":"SUCCESS"`...)
				}
				body = append(body, '}')
				st, resp, err := p.post(host, "/v1/sessions/events", svc.Token, body)
				if err != nil || st != http.StatusCreated || !bytes.Contains(resp, []byte(`"id":"`)) {
					b.Errorf("report: %v %d %s", err, st, resp)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reports/s")
}
