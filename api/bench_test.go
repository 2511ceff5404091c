package api_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-sse/herald/api"
	"github.com/herald-sse/herald/client"
	"github.com/herald-sse/herald/internal/testutil"
	"github.com/herald-sse/herald/sse"
)

// BenchmarkSessionFanout: 1,000 sessionId=* watchers (admins of 10
// domains, 100 each, on real loopback connections) while 20 producers
// report session events as fast as they are acknowledged. Each op is one
// acknowledged report; the metrics are events routed to watchers per second
// and acknowledged reports per second.
func BenchmarkSessionFanout(b *testing.B) {
	s := testutil.Start(b, testutil.WithConfig(func(c *api.Config) { c.QueueSize = 4096 }))
	ctx := context.Background()
	const domains, watchersPer, producers = 10, 100, 20
	type dom struct {
		svc   testutil.Key
		users []string
	}
	ds := make([]dom, domains)
	var received atomic.Int64
	var wg sync.WaitGroup
	tr := &http.Transport{MaxIdleConnsPerHost: 2000, MaxConnsPerHost: 0}
	hc := &http.Client{Transport: tr}
	wctx, stop := context.WithCancel(ctx)
	for i := range ds {
		name := fmt.Sprintf("d%d", i)
		s.CreateDomain(b, name)
		s.CreateGroup(b, name, "g")
		ds[i].svc = s.CreateKey(b, "service", name, nil, "")
		for u := 0; u < 4; u++ {
			ds[i].users = append(ds[i].users, s.CreateKey(b, "user", name, []string{"g"}, "").AccessKey)
		}
		admin := s.CreateKey(b, "admin", name, nil, "")
		for w := 0; w < watchersPer; w++ {
			req, _ := http.NewRequestWithContext(wctx, "GET", s.URL+"/events/session?sessionId=*", nil)
			req.Header.Set("Authorization", "Bearer "+admin.Token)
			resp, err := hc.Do(req)
			if err != nil || resp.StatusCode != 200 {
				b.Fatalf("watcher: %v %v", err, resp)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer resp.Body.Close()
				r := sse.NewReader(bufio.NewReaderSize(resp.Body, 16<<10))
				for {
					if _, err := r.Next(); err != nil {
						return
					}
					received.Add(1)
				}
			}()
		}
	}
	steps := []string{"session_enqueued", "session_preparing", "session_creating", "session_started", "session_terminated"}
	b.ResetTimer()
	start := time.Now()
	var next atomic.Int64
	var pw sync.WaitGroup
	for p := 0; p < producers; p++ {
		pw.Add(1)
		go func(p int) {
			defer pw.Done()
			d := ds[p%domains]
			c := s.Client(d.svc.Token)
			owner := d.users[(p/domains)%len(d.users)]
			for n := 0; ; n++ {
				if next.Add(1) > int64(b.N) {
					return
				}
				sid := fmt.Sprintf("p%d-%d", p, n/len(steps))
				if _, err := c.ReportSession(ctx, client.SessionReport{SessionID: sid, OwnerAccessKey: owner, Group: "g", Event: steps[n%len(steps)]}, ""); err != nil {
					b.Error(err)
					return
				}
			}
		}(p)
	}
	pw.Wait()
	want := int64(b.N) * watchersPer // each event reaches its domain's 100 watchers
	for deadline := time.Now().Add(60 * time.Second); received.Load() < want && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if got := received.Load(); got != want {
		b.Fatalf("watchers received %d events, want %d", got, want)
	}
	if slow := s.API.Hub().Stats().EndedSlow.Load(); slow != 0 {
		b.Fatalf("%d watchers ended as slow", slow)
	}
	b.ReportMetric(float64(want)/elapsed.Seconds(), "delivered/s")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "reports/s")
	stop()
	wg.Wait()
}
