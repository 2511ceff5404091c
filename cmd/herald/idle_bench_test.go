package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// idleConns is how many SSE connections BenchmarkIdleConnections opens.
var idleConns = flag.Int("idle.conns", 5000, "SSE connections BenchmarkIdleConnections opens")

const benchToken = "hrld_idle-bench-token-0123456789abcdefghijklmnopqrs"

// BenchmarkIdleConnections measures the server's memory per idle SSE
// connection. It starts the real binary, creates one running task, opens
// -idle.conns (default 5000) loopback connections to its feed, each its own
// TCP connection read up to the end of the response headers, and reports
// per connection the growth of the server's VmRSS (rss-bytes/conn) and of
// go_goroutines, go_memstats_heap_alloc_bytes and
// go_memstats_stack_inuse_bytes from /metrics. It measures once, whatever
// b.N: run it with -benchtime 1x.
//
// gogc=default runs the server with GOGC unset (what production gets);
// gogc=10 keeps the heap close to live memory, so rss-bytes/conn is close
// to what a connection retains.
func BenchmarkIdleConnections(b *testing.B) {
	if testing.Short() {
		b.Skip("BenchmarkIdleConnections builds the herald binary and opens thousands of connections; skipped with -short")
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatal(err)
	}
	if lim.Cur < uint64(*idleConns)+1000 {
		b.Skipf("open-files limit %d is below %d: raise ulimit -n", lim.Cur, *idleConns+1000)
	}
	for _, gogc := range []string{"default", "10"} {
		b.Run("gogc="+gogc, func(b *testing.B) { idleBench(b, gogc) })
	}
}

func idleBench(b *testing.B, gogc string) {
	n := *idleConns
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "GOGC=") || strings.HasPrefix(kv, "GOMEMLIMIT=") || strings.HasPrefix(kv, "GODEBUG=")
	})
	if gogc != "default" {
		env = append(env, "GOGC="+gogc)
	}
	p := startServeEnv(b, env, "--data", b.TempDir(), "--bootstrap-token", benchToken, "--keepalive", "15s")
	pid := p.cmd.Process.Pid
	ctx := context.Background()
	var task struct {
		ID string `json:"task_id"`
	}
	if st, err := call(ctx, "POST", p.url+"/v1/tasks", benchToken, map[string]any{"total_progress": 100}, &task); err != nil || st != 201 {
		b.Fatalf("create task: %d %v", st, err)
	}
	addr := strings.TrimPrefix(p.url, "http://")
	req := []byte("GET /events/background-task?taskId=" + task.ID + " HTTP/1.1\r\nHost: " + addr +
		"\r\nAuthorization: Bearer " + benchToken + "\r\nAccept: text/event-stream\r\n\r\n")

	// Warm up the code paths (and the server's pools) with a few streams.
	warm, err := openStreams(addr, req, 50)
	closeAll(warm)
	if err != nil {
		b.Fatal(err)
	}
	rss0, m0 := settle(b, pid, p.url)

	start := time.Now()
	conns, err := openStreams(addr, req, n)
	defer closeAll(conns)
	if err != nil {
		b.Fatal(err)
	}
	connect := time.Since(start)
	// A stream whose handler returned after sending its headers leaves an
	// idle keep-alive connection: count the streams the server holds open.
	if open := metric(b, p.url, "herald_sse_connections"); open != float64(n) {
		b.Fatalf("the server holds %v SSE streams open, want %d: it ended %v of them right after their 200 "+
			"headers (is the feed's history replay failing? At 02d673b it fails with \"maximum consumers limit "+
			"reached\" once ~1000 replay consumers linger: see docs/benchmarks.md)", open, n, float64(n)-open)
	}
	rss1, m1 := settle(b, pid, p.url)
	per := func(name string) float64 { return (m1[name] - m0[name]) / float64(n) }
	b.ReportMetric(float64(rss1-rss0)/float64(n), "rss-bytes/conn")
	b.ReportMetric(per("go_goroutines"), "goroutines/conn")
	b.ReportMetric(per("go_memstats_heap_alloc_bytes"), "heap-bytes/conn")
	b.ReportMetric(per("go_memstats_stack_inuse_bytes"), "stack-bytes/conn")
	b.ReportMetric(float64(connect.Microseconds())/float64(n), "connect-µs/conn")
	b.Logf("GOGC=%s: VmRSS %d → %d KiB, go_goroutines %v → %v, heap alloc %v → %v KiB, stack in use %v → %v KiB; %d streams opened in %v",
		gogc, rss0>>10, rss1>>10, m0["go_goroutines"], m1["go_goroutines"],
		int64(m0["go_memstats_heap_alloc_bytes"])>>10, int64(m1["go_memstats_heap_alloc_bytes"])>>10,
		int64(m0["go_memstats_stack_inuse_bytes"])>>10, int64(m1["go_memstats_stack_inuse_bytes"])>>10,
		n, connect.Round(time.Millisecond))
}

// openStreams opens n SSE streams with up to 16 dials at a time. Source
// addresses rotate over 127.0.0.2–127.0.0.9 so the ephemeral ports of one
// source address are never the limit.
func openStreams(addr string, req []byte, n int) ([]net.Conn, error) {
	conns := make([]net.Conn, n)
	errs := make(chan error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range next {
				d := net.Dialer{Timeout: 10 * time.Second,
					LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i%8))}}
				c, err := d.Dial("tcp", addr)
				if err == nil {
					err = openStream(c, req)
					conns[i] = c
				}
				if err != nil {
					errs <- fmt.Errorf("stream %d: %w", i, err)
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	conns = slices.DeleteFunc(conns, func(c net.Conn) bool { return c == nil })
	return conns, <-errs
}

// openStream sends the GET and reads up to the end of the response
// headers, checking the status; whatever follows stays unread.
func openStream(c net.Conn, req []byte) error {
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(req); err != nil {
		return err
	}
	var buf [1024]byte
	n := 0
	for !bytes.Contains(buf[:n], []byte("\r\n\r\n")) {
		if n == len(buf) {
			return fmt.Errorf("response headers longer than %d bytes", len(buf))
		}
		m, err := c.Read(buf[n:])
		if err != nil {
			return err
		}
		n += m
	}
	if !bytes.HasPrefix(buf[:n], []byte("HTTP/1.1 200 ")) {
		line, _, _ := bytes.Cut(buf[:n], []byte("\r\n"))
		return fmt.Errorf("response %q", line)
	}
	return nil
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		c.Close()
	}
}

// idleMetrics are the /metrics samples settle reads.
var idleMetrics = []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "go_memstats_stack_inuse_bytes"}

// settle waits for the server to settle (its runtime GC and scavenger),
// then returns the median of 5 VmRSS readings and idleMetrics.
func settle(b *testing.B, pid int, url string) (rss int64, m map[string]float64) {
	b.Helper()
	time.Sleep(2 * time.Second)
	var rs []int64
	for i := range 5 {
		if i > 0 {
			time.Sleep(300 * time.Millisecond)
		}
		rs = append(rs, vmRSS(b, pid))
	}
	slices.Sort(rs)
	return rs[len(rs)/2], metrics(b, url, idleMetrics...)
}

// vmRSS reads VmRSS of pid in bytes.
func vmRSS(b *testing.B, pid int) int64 {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				b.Fatalf("VmRSS %q: %v", v, err)
			}
			return kb << 10
		}
	}
	b.Fatal("no VmRSS in /proc/PID/status")
	return 0
}

// metricsClient does not keep connections: the server's goroutine count
// must not include an idle /metrics connection.
var metricsClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// metric reads one unlabelled sample from the server's /metrics.
func metric(b testing.TB, url, name string) float64 { return metrics(b, url, name)[name] }

// metrics reads unlabelled samples from the server's /metrics.
func metrics(b testing.TB, url string, names ...string) map[string]float64 {
	b.Helper()
	resp, err := metricsClient.Get(url + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if !ok || !slices.Contains(names, name) {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			b.Fatal(err)
		}
		m[name] = f
	}
	for _, name := range names {
		if _, ok := m[name]; !ok {
			b.Fatalf("no %s in /metrics", name)
		}
	}
	return m
}
