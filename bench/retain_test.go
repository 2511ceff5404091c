package bench

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/herald-sse/herald/lifecycle"
)

// Memory per retained entity, end to end (issue 11, item 5): a herald
// server on loopback with a fresh data directory is sent N sessions, each
// through its whole lifecycle to terminated (7 reports), then M push jobs
// of a typical request, then a few of the largest request herald takes;
// after each phase the server's settled VmRSS (median of 5 readings) is
// read, and the growth divided by the entities written is the cost of one.
//
// It needs a herald binary and takes minutes, so it runs only when asked:
//
//	go build -o /tmp/herald ./cmd/herald
//	HERALD_RETAIN_BIN=/tmp/herald go test ./bench -run ^$ -bench RetainedRSS -benchtime 1x -v -timeout 30m
//
// HERALD_RETAIN_COUNTS=sessions,jobs,largest (default 100000,10000,5)
// changes the numbers; HERALD_RETAIN_ARGS adds server flags (spaces
// between them); HERALD_RETAIN_PROFILES=DIR runs it with --memprofile and
// keeps a profile of the live heap after each phase in DIR/heap-PHASE
// (slower: every allocation is recorded). The jobs' nodes do not heartbeat, so every job ends at
// once (quorum_failed) and is retained finished, as after its run.
func BenchmarkRetainedRSS(b *testing.B) {
	t := b // one measurement, not a loop: run with -benchtime 1x
	bin := os.Getenv("HERALD_RETAIN_BIN")
	if bin == "" {
		t.Skip("set HERALD_RETAIN_BIN to a herald binary to measure the memory per retained entity")
	}
	sessions, jobs, big := 100000, 10000, 5
	if c := os.Getenv("HERALD_RETAIN_COUNTS"); c != "" {
		if _, err := fmt.Sscanf(c, "%d,%d,%d", &sessions, &jobs, &big); err != nil {
			t.Fatalf("HERALD_RETAIN_COUNTS=%q: %v", c, err)
		}
	}
	ctx := context.Background()
	token := randomToken()
	extra := []string{"--rate-writes", "0", "--max-open-jobs", "0", "--max-running-tasks", "0"}
	if a := os.Getenv("HERALD_RETAIN_ARGS"); a != "" {
		extra = append(extra, strings.Fields(a)...)
	}
	profiles := os.Getenv("HERALD_RETAIN_PROFILES")
	if profiles != "" {
		extra = append(extra, "--memprofile", filepath.Join(profiles, "heap"))
	}
	srv, err := startHerald(ctx, bin, token, 15*time.Second, extra, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.stop()
	w := newRetainWriter(srv.url, token)

	const owners, groups = 100, 10
	for g := 0; g < groups; g++ {
		if err := apiCall(ctx, srv.url, token, "POST", "/v1/admin/domains/default/groups", map[string]string{"name": fmt.Sprintf("group-%d", g)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	keys := make([]string, owners)
	for i := range keys {
		var k struct {
			AccessKey string `json:"accessKey"`
		}
		if err := apiCall(ctx, srv.url, token, "POST", "/v1/admin/keys", map[string]string{"role": "user"}, &k); err != nil {
			t.Fatal(err)
		}
		keys[i] = k.AccessKey
	}
	session := func(i int) error {
		for _, ev := range lifecycle.SessionEventNames() {
			body := fmt.Sprintf(`{"sessionId":"%08x-0000-4000-8000-%012x","ownerAccessKey":"%s","group":"group-%d","event":"%s"}`,
				i, i*2654435761%(1<<48), keys[i%owners], i%groups, ev)
			if err := w.post("/v1/sessions/events", []byte(body)); err != nil {
				return err
			}
		}
		return nil
	}
	typical := func(i int) error {
		nodes := make([]string, 3)
		for k := range nodes {
			nodes[k] = fmt.Sprintf("web-%03d.prod.example.com", (i*7+k*61)%200)
		}
		b, _ := json.Marshal(map[string]any{"command": "chef-client -o recipe[deploy::app]", "nodes": nodes,
			"env": map[string]string{"APP_VERSION": "2.14." + strconv.Itoa(i%100), "DEPLOY_ENV": "production"}})
		return w.post("/organizations/default/pushy/jobs", b)
	}
	largest := largestJobBody()
	bigJob := func(int) error { return w.post("/organizations/default/pushy/jobs", largest) }

	// Warm up every path once, then read the base.
	if err := w.run(200, 8, session); err != nil {
		t.Fatal(err)
	}
	if err := w.run(20, 4, typical); err != nil {
		t.Fatal(err)
	}
	if err := w.run(1, 1, bigJob); err != nil {
		t.Fatal(err)
	}
	type phase struct {
		name string
		n    int
		rss  int64
		heap int64
	}
	var phases []phase
	read := func(name string, n int) {
		rss, heap := settled(t, srv)
		phases = append(phases, phase{name, n, rss, heap})
		if profiles != "" {
			saveProfile(t, srv, profiles, name)
		}
		t.Logf("%-8s %7d written: VmRSS %6.1f MiB, heap in use %6.1f MiB", name, n, float64(rss)/(1<<20), float64(heap)/(1<<20))
	}
	read("base", 0)
	start := time.Now()
	if err := w.run(sessions, 32, session); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d sessions (%d reports) in %v", sessions, 7*sessions, time.Since(start).Round(time.Second))
	read("sessions", sessions)
	if err := w.run(jobs, 32, typical); err != nil {
		t.Fatal(err)
	}
	read("jobs", jobs)
	if err := w.run(big, 1, bigJob); err != nil {
		t.Fatal(err)
	}
	read("largest", big)
	for i := 1; i < len(phases); i++ {
		p, q := phases[i], phases[i-1]
		if p.n == 0 {
			continue
		}
		t.Logf("RESULT %s: %d B RSS and %d B heap in use per entity (%d entities)",
			p.name, (p.rss-q.rss)/int64(p.n), (p.heap-q.heap)/int64(p.n), p.n)
	}
}

// saveProfile has the server (run with --memprofile DIR/heap) write a
// profile of its live heap and keeps it as DIR/heap-NAME.
func saveProfile(t testing.TB, s *server, dir, name string) {
	t.Helper()
	file := filepath.Join(dir, "heap")
	before, _ := os.Stat(file)
	if err := s.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Minute); ; {
		time.Sleep(time.Second)
		if st, err := os.Stat(file); err == nil && (before == nil || st.ModTime().After(before.ModTime())) {
			time.Sleep(2 * time.Second) // let the write finish
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no heap profile written to %s", file)
		}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "heap-"+name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// largestJobBody is a job request at the limits: 10,000 nodes of 64-byte
// names, the largest env, file, dir and command — about 825 kB of JSON.
func largestJobBody() []byte {
	nodes := make([]string, lifecycle.MaxJobNodes)
	for i := range nodes {
		nodes[i] = fmt.Sprintf("node-%05d-%s", i, strings.Repeat("x", 53))
	}
	env := map[string]string{}
	per := lifecycle.MaxJobEnvBytes/lifecycle.MaxJobEnvEntries - 4
	for i := 0; i < lifecycle.MaxJobEnvEntries; i++ {
		env[fmt.Sprintf("V%03d", i)] = strings.Repeat("x", per)
	}
	b, _ := json.Marshal(map[string]any{"command": strings.Repeat("c", lifecycle.MaxJobCommand), "nodes": nodes, "env": env,
		"dir": "/" + strings.Repeat("d", lifecycle.MaxJobDir-1), "user": "deploy",
		"file": "base64:" + base64.StdEncoding.EncodeToString(make([]byte, lifecycle.MaxJobFileBytes))})
	return b
}

// settled waits for the server to settle and returns the median of 5
// readings of its VmRSS and of its heap in use.
func settled(t testing.TB, s *server) (rss, heap int64) {
	t.Helper()
	time.Sleep(3 * time.Second)
	var rs, hs []int64
	for i := 0; i < 5; i++ {
		r, err := procStatus(s.pid(), "VmRSS:")
		if err != nil {
			t.Fatal(err)
		}
		v, err := scrape(s.url, "go_memstats_heap_inuse_bytes")
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
		hs = append(hs, int64(v["go_memstats_heap_inuse_bytes"]))
		time.Sleep(500 * time.Millisecond)
	}
	slices.Sort(rs)
	slices.Sort(hs)
	return rs[2], hs[2]
}

// retainWriter posts writes over kept-alive connections.
type retainWriter struct {
	base, token string
	client      *http.Client
}

func newRetainWriter(base, token string) *retainWriter {
	return &retainWriter{base: base, token: token, client: &http.Client{Timeout: 60 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}}
}

func (w *retainWriter) post(path string, body []byte) error {
	req, err := http.NewRequest("POST", w.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+w.token)
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("POST %s: %s: %s", path, resp.Status, bytes.TrimSpace(data))
	}
	return nil
}

// run calls do(0..n-1) from `workers` goroutines and returns the first
// error.
func (w *retainWriter) run(n, workers int, do func(i int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := do(i); err != nil {
					once.Do(func() { first = err })
					next.Store(int64(n))
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}
