package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat
// (100 on every Linux architecture Go supports).
const clockTicks = 100

// RaiseFileLimit raises the soft RLIMIT_NOFILE to the hard limit and
// returns the new soft limit.
func RaiseFileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, err
		}
	}
	return lim.Cur, nil
}

// procSample is a server's resource use at one instant.
type procSample struct {
	at  time.Time
	cpu time.Duration // user + system CPU since the process started
	mem int64         // resident memory, bytes
	// syscw counts the write system calls since the process started
	// (write, writev, …: /proc/PID/io); 0 when unknown.
	syscw uint64
}

// usage reads the server's CPU time and memory. Known is false when
// neither a process nor the server's /metrics can tell.
type usage interface {
	sample() (procSample, error)
	describe() string
}

// pidUsage reads /proc for a set of processes: the server process, or
// nginx's master and its workers. Memory is VmRSS for one process; for
// several it is the sum of their Pss, so pages the workers share are
// counted once.
type pidUsage struct {
	pids func() []int
	name string
}

func (p pidUsage) describe() string { return p.name }

func (p pidUsage) sample() (procSample, error) {
	s := procSample{at: time.Now()}
	pids := p.pids()
	if len(pids) == 0 {
		return s, fmt.Errorf("no server process")
	}
	for _, pid := range pids {
		cpu, err := procCPU(pid)
		if err != nil {
			return s, err
		}
		s.cpu += cpu
		s.syscw += procSyscw(pid)
		var mem int64
		if len(pids) == 1 {
			mem, err = procStatus(pid, "VmRSS:")
		} else {
			mem, err = procPss(pid)
		}
		if err != nil {
			return s, err
		}
		s.mem += mem
	}
	return s, nil
}

// procCPU is utime+stime of pid.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command (which may hold spaces) start after ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: short", pid)
	}
	// f[0] is field 3 (state); utime is field 14, stime 15.
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad utime/stime", pid)
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// procSyscw is the write system calls of pid (/proc/PID/io "syscw"),
// 0 when unreadable. Write calls on sockets through write and writev
// count; send, sendto and sendmsg do not.
func procSyscw(pid int) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "syscw:"); ok {
			n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

// procStatus reads a "kB" field of /proc/PID/status in bytes.
func procStatus(pid int, field string) (int64, error) {
	return kbField(fmt.Sprintf("/proc/%d/status", pid), field)
}

func procPss(pid int) (int64, error) {
	return kbField(fmt.Sprintf("/proc/%d/smaps_rollup", pid), "Pss:")
}

func kbField(file, field string) (int64, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s %s %q: %w", file, field, v, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("%s: no %s", file, field)
}

// processTree is pid and its children (nginx's workers).
func processTree(pid int) []int {
	out := []int{pid}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return out
	}
	for f := range strings.FieldsSeq(string(b)) {
		if c, err := strconv.Atoi(f); err == nil {
			out = append(out, c)
		}
	}
	return out
}

// metricsUsage reads process_cpu_seconds_total and
// process_resident_memory_bytes from a herald server's /metrics.
type metricsUsage struct {
	url string
}

func (m metricsUsage) describe() string { return m.url + "/metrics" }

func (m metricsUsage) sample() (procSample, error) {
	v, err := scrape(m.url, "process_cpu_seconds_total", "process_resident_memory_bytes")
	if err != nil {
		return procSample{}, err
	}
	return procSample{at: time.Now(), cpu: time.Duration(v["process_cpu_seconds_total"] * float64(time.Second)),
		mem: int64(v["process_resident_memory_bytes"])}, nil
}

// noUsage is a target whose resources cannot be read.
type noUsage struct{}

func (noUsage) describe() string            { return "unknown" }
func (noUsage) sample() (procSample, error) { return procSample{at: time.Now()}, errNoUsage }

var errNoUsage = fmt.Errorf("server CPU and memory unknown: give --server-pid, or --token for a herald target's /metrics")

// scrapeClient keeps no idle connection, so scraping does not add one to
// the server's count.
var scrapeClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// scrape reads unlabelled samples from base + "/metrics".
func scrape(base string, names ...string) (map[string]float64, error) {
	resp, err := scrapeClient.Get(base + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if !ok || !slices.Contains(names, name) {
			continue
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			out[name] = f
		}
	}
	for _, n := range names {
		if _, ok := out[n]; !ok {
			return nil, fmt.Errorf("no %s in %s/metrics", n, base)
		}
	}
	return out, nil
}

// server is a server process the bench started.
type server struct {
	cmd  *exec.Cmd
	url  string
	dir  string // temporary directory to remove
	done chan struct{}
	mu   sync.Mutex
	logs bytes.Buffer
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// stop ends the process (SIGTERM, then SIGKILL after 10 s) and removes
// its temporary directory.
func (s *server) stop() {
	if s == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}

func (s *server) logTail() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.logs.Bytes()
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}

// randomToken returns a fresh bootstrap token.
func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return "hrld_bench-" + hex.EncodeToString(b)
}

// startHerald runs `BINARY serve` on a free loopback port with a
// temporary data directory and the bootstrap token, on cpus (nil: any of
// the bench's); it returns once the server is ready.
func startHerald(ctx context.Context, binary, token string, keepalive time.Duration, extra, env []string, cpus []int) (*server, error) {
	dir, err := os.MkdirTemp("", "herald-bench-")
	if err != nil {
		return nil, err
	}
	args := []string{"serve", "--listen", "127.0.0.1:0", "--data", filepath.Join(dir, "data"),
		"--bootstrap-token", token, "--log-format", "json", "--log-level", "info",
		"--keepalive", keepalive.String()}
	args = append(args, extra...)
	cmd := exec.Command(binary, args...)
	cmd.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "HERALD_")
	}), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := startOn(cmd, cpus); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &server{cmd: cmd, dir: dir, done: make(chan struct{})}
	first := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for n := 0; sc.Scan(); n++ {
			if n == 0 {
				first <- sc.Text()
			}
			s.mu.Lock()
			s.logs.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
		}
		close(first)
		_, _ = io.Copy(io.Discard, stderr)
	}()
	go func() { _ = cmd.Wait(); close(s.done) }()
	fail := func(err error) (*server, error) {
		s.stop()
		return nil, fmt.Errorf("herald serve: %w\n%s", err, s.logTail())
	}
	// The first log line names the address (port 0 picks a free one).
	select {
	case line, ok := <-first:
		url := ""
		if ok {
			url = startURL(line)
		}
		if url == "" {
			return fail(fmt.Errorf("first log line %q does not name the address", line))
		}
		s.url = url
	case <-ctx.Done():
		return fail(ctx.Err())
	case <-time.After(60 * time.Second):
		return fail(fmt.Errorf("printed nothing in 60s"))
	}
	if err := waitReady(ctx, s.url, s.done); err != nil {
		return fail(err)
	}
	return s, nil
}

// startURL is the address that herald serve's first JSON log line names,
// or "" if the line is not that announcement. Builds before the readiness
// gate announced "herald listening" (--binary runs them, to compare a
// change with the build before it), later ones "herald starting".
func startURL(line string) string {
	var l struct {
		Msg string `json:"msg"`
		URL string `json:"url"`
	}
	if json.Unmarshal([]byte(line), &l) != nil || (l.Msg != "herald starting" && l.Msg != "herald listening") {
		return ""
	}
	return l.URL
}

// waitReady polls /readyz until 200.
func waitReady(ctx context.Context, url string, done <-chan struct{}) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := scrapeClient.Get(url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s/readyz not 200 after 60s", url)
		}
		select {
		case <-done:
			return fmt.Errorf("exited")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// apiCall is a JSON call to a herald server with net/http (setup only).
func apiCall(ctx context.Context, base, token, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := scrapeClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(data))
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}
