//go:build linux

package bench

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// threadCPUs reads the CPUs each thread of process pid may run on
// (Cpus_allowed_list of /proc/PID/task/TID/status), as lists like "0-1".
func threadCPUs(pid int) []string {
	dirs, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/status")
	var out []string
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "Cpus_allowed_list:"); ok {
				out = append(out, strings.TrimSpace(v))
			}
		}
	}
	return out
}

// children lists the processes whose parent is this one, by pid, with
// the path of their executable.
func children() map[int]string {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	me := os.Getpid()
	out := map[int]string{}
	for _, st := range stats {
		b, err := os.ReadFile(st)
		if err != nil {
			continue
		}
		// pid (comm) state ppid …: comm may hold spaces, so split after ")".
		i := strings.LastIndexByte(string(b), ')')
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid == me {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(st)))
			exe, _ := os.Readlink(filepath.Dir(st) + "/exe")
			out[pid] = exe
		}
	}
	return out
}

// TestIsolationPinned runs the isolation scenario with Pin, a real herald
// serve and B's writer as processes of their own: while it runs, every
// thread of the server and of B's writer is on the server's half of the
// CPUs and the bench's threads on the other half; afterwards the bench's
// threads are back on all of them, and the results name the split.
func TestIsolationPinned(t *testing.T) {
	cpus, err := allowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	sp, ok := split(cpus)
	if !ok {
		t.Skipf("pinning needs two CPUs; this process may use %v", cpus)
	}
	before := threadCPUs(os.Getpid())
	bin := heraldBin(t)
	t.Setenv(writerEnv, "1")
	c := isolationTiny()
	c.Pin = true
	c.WriterCommand = []string{os.Args[0]}

	serverList, genList := cpuList(sp.server), cpuList(sp.gen)
	if len(sp.server) > 1 || len(sp.gen) > 1 {
		// Cpus_allowed_list writes runs as ranges (0-1); compare
		// single CPUs only, the 2-CPU case this test is about.
		serverList, genList = "", ""
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var seenServer, seenWriter, benchPinned int
	var bad []string
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			for pid, exe := range children() {
				switch exe {
				case bin:
					seenServer++
				case os.Args[0]:
					seenWriter++
				default:
					continue
				}
				for _, l := range threadCPUs(pid) {
					if serverList != "" && l != serverList {
						bad = append(bad, exe+" thread on CPU "+l)
					}
				}
			}
			if genList != "" {
				mine := threadCPUs(os.Getpid())
				if !slices.ContainsFunc(mine, func(l string) bool { return l != genList }) {
					benchPinned++
				}
			}
		}
	}()
	r := checkIsolation(t, Options{Binary: bin, Sources: 2}, c)
	close(stop)
	wg.Wait()

	if got := r.Params["cpus"]; got != sp.String() {
		t.Errorf("cpus param %q, want %q", got, sp.String())
	}
	if seenServer == 0 || seenWriter == 0 {
		t.Fatalf("saw the server %d times and B's writer %d times among this process's children", seenServer, seenWriter)
	}
	if len(bad) > 0 {
		t.Errorf("%d threads off the server's CPU %s, e.g. %s", len(bad), serverList, bad[0])
	}
	if genList != "" && benchPinned == 0 {
		t.Errorf("the bench's threads were never all on CPU %s", genList)
	}
	after := threadCPUs(os.Getpid())
	for _, l := range after {
		if l != before[0] {
			t.Errorf("after the run a thread of the bench is on CPU %s, before all were on %s", l, before[0])
			break
		}
	}
}
