//go:build linux

package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-sse/herald/internal/testdisk"
)

// readyProbe polls /readyz and remembers every answer.
type readyProbe struct {
	mu      sync.Mutex
	answers []readyAnswer
	stop    chan struct{}
	done    chan struct{}
}

type readyAnswer struct {
	asked  time.Time
	status int
	body   string
}

func probeReadyz(url string) *readyProbe {
	p := &readyProbe{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for {
			select {
			case <-p.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			asked := time.Now()
			resp, err := http.Get(url + "/readyz")
			if err != nil {
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			p.mu.Lock()
			p.answers = append(p.answers, readyAnswer{asked, resp.StatusCode, strings.TrimSpace(string(b))})
			p.mu.Unlock()
		}
	}()
	return p
}

func (p *readyProbe) close() []readyAnswer {
	close(p.stop)
	<-p.done
	return p.answers
}

// postTaskProblem creates a task and returns the status and, on an
// error, the problem's title.
func postTaskProblem(t *testing.T, url string, msg string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/v1/tasks", strings.NewReader(`{"total_progress":1,"message":"`+msg+`"}`))
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p struct {
		Title string `json:"title"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&p)
	return resp.StatusCode, p.Title
}

// TestDiskFullProcess runs herald serve on a small tmpfs and fills the
// disk: writes are refused with 503 "store full" (never acknowledged),
// /readyz says "store full" from the first refusal on and never 200 while
// the disk is full; once the ballast is removed, /readyz is 200 and writes
// succeed within seconds, without a restart.
func TestDiskFullProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("mounts a tmpfs and runs the herald binary")
	}
	root := testdisk.MountTmpfs(t, 32<<20)
	p := startServe(t, "--data", filepath.Join(root, "data"), "--bootstrap-token", testToken)
	probe := probeReadyz(p.url)
	testdisk.Fill(t, filepath.Join(root, "ballast"))
	msg := strings.Repeat("d", 1000)
	var firstRefusal time.Time
	var titles []string
	for i := 0; i < 5000 && len(titles) < 4; i++ {
		st, title := postTaskProblem(t, p.url, msg)
		switch st {
		case http.StatusCreated:
		case http.StatusServiceUnavailable:
			if firstRefusal.IsZero() {
				firstRefusal = time.Now()
			}
			titles = append(titles, title)
		default:
			t.Fatalf("write on a full disk: %d %q", st, title)
		}
	}
	if firstRefusal.IsZero() {
		t.Fatal("5000 writes of 1 KB accepted on a full 32 MB disk")
	}
	t.Logf("refusals: %q", titles)
	if titles[len(titles)-1] != "store full" {
		t.Fatalf("refusal titles %q, want \"store full\"", titles)
	}
	time.Sleep(1500 * time.Millisecond) // /readyz stays honest while full
	if err := os.Remove(filepath.Join(root, "ballast")); err != nil {
		t.Fatal(err)
	}
	freed := time.Now()
	for {
		st, title := postTaskProblem(t, p.url, "after")
		if st == http.StatusCreated {
			break
		}
		if time.Since(freed) > 15*time.Second {
			t.Fatalf("writes still refused 15s after space was freed: %d %q\n%s", st, title, p.Logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
	healed := time.Since(freed)
	time.Sleep(200 * time.Millisecond)
	answers := probe.close()
	var readyAgain time.Duration
	sawFull := false
	for _, a := range answers {
		if a.asked.After(firstRefusal) && a.asked.Before(freed) {
			if a.status == 200 {
				t.Errorf("/readyz said ready at %v, after the first refusal and before space was freed", a.asked)
			}
			sawFull = sawFull || a.body == "store full"
		}
		if a.asked.After(freed) && a.status == 200 && readyAgain == 0 {
			readyAgain = a.asked.Sub(freed)
		}
	}
	if !sawFull {
		t.Errorf("/readyz never said \"store full\" while the disk was full: %+v", answers)
	}
	if readyAgain == 0 {
		t.Errorf("/readyz not 200 after space was freed")
	}
	t.Logf("after space was freed: writes work in %v, /readyz 200 in %v", healed.Round(time.Millisecond), readyAgain.Round(time.Millisecond))
	if !strings.Contains(p.Logs(), "no space left") {
		t.Errorf("the log does not say what failed:\n%s", p.Logs())
	}
}
