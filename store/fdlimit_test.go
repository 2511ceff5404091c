//go:build linux

package store

import (
	"context"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// exhaustFiles lowers the process's soft open-files limit to what is open
// now plus a little headroom and opens /dev/null until none is left, as a
// flood of client connections would; like the flood, it keeps taking
// every descriptor that is closed meanwhile. The returned func gives them
// back.
func exhaustFiles(t *testing.T) (release func()) {
	t.Helper()
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	lim := old
	lim.Cur = uint64(len(fds) + 64)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []*os.File
	grab := func() {
		for {
			f, err := os.Open(os.DevNull)
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, f)
			mu.Unlock()
		}
	}
	grab()
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				grab()
			}
		}
	}()
	return func() {
		close(stop)
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, f := range held {
			f.Close()
		}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
			t.Error(err)
		}
	}
}

// TestFileExhaustionHeals takes every file descriptor while the store
// writes (small blocks, so it must open new block files): appends fail
// and Health says so; once descriptors are free again the store restarts
// JetStream in-process and appends work within seconds, no reopen.
func TestFileExhaustionHeals(t *testing.T) {
	if testing.Short() {
		t.Skip("exhausts file descriptors")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var logs logBuffer
	s := openWith(t, Config{Dir: t.TempDir(), MaxBytes: 120_000, Logger: logs.logger()}) // 32 KB blocks
	subj := Subject("task", "d", "f")
	if _, err := s.Commit(ctx, Append{Subject: subj, NoCheck: true, Record: rec("before")}); err != nil {
		t.Fatal(err)
	}
	release := exhaustFiles(t)
	released := false
	defer func() {
		if !released {
			release()
		}
	}()
	big := rec("fill")
	big.Snapshot = []byte(`"` + strings.Repeat("f", 2000) + `"`)
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		cctx, ccancel := context.WithTimeout(ctx, 3*time.Second)
		_, err = s.Commit(cctx, Append{Subject: subj, NoCheck: true, Record: big})
		ccancel()
		time.Sleep(50 * time.Millisecond)
	}
	if err == nil {
		t.Fatalf("log:\n%s\n100 appends of 2 KB into 32 KB blocks succeeded with no file descriptor left", logs.String())
	}
	t.Logf("append without descriptors: %v", err)
	deadline := time.Now().Add(5 * time.Second)
	for s.Health(ctx) == nil {
		if time.Now().After(deadline) {
			t.Fatal("Health is nil 5s after an append failed for want of descriptors")
		}
		time.Sleep(50 * time.Millisecond)
	}
	release()
	released = true
	freed := time.Now()
	for s.Health(ctx) != nil {
		if time.Since(freed) > 20*time.Second {
			t.Fatalf("still unhealthy 20s after descriptors were freed: %v\nlog:\n%s", s.Health(ctx), logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := s.Commit(ctx, Append{Subject: subj, NoCheck: true, Record: rec("after")}); err != nil {
		t.Fatalf("append after descriptors were freed: %v\nlog:\n%s", err, logs.String())
	}
	t.Logf("healthy and appending %v after descriptors were freed", time.Since(freed).Round(time.Millisecond))
	if !strings.Contains(logs.String(), "too many open files") {
		t.Errorf("the cause is not in the log:\n%s", logs.String())
	}
}
