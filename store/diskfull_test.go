//go:build linux

package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/herald-sse/herald/internal/testdisk"
)

// TestDiskFullHeals fills the filesystem under the store: appends fail
// (never acknowledged), Health reports it within seconds; once the ballast
// is removed, the store restarts JetStream in-process and appends work
// again within seconds, the tail going on, without reopening the store.
func TestDiskFullHeals(t *testing.T) {
	if testing.Short() {
		t.Skip("mounts a tmpfs")
	}
	root := testdisk.MountTmpfs(t, 16<<20)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var logs logBuffer
	s := openWith(t, Config{Dir: filepath.Join(root, "data"), Logger: logs.logger()})
	subj := Subject("task", "d", "a")
	tailed := make(chan uint64, 1024)
	tctx, stopTail := context.WithCancel(ctx)
	tailDone := make(chan error, 1)
	go func() {
		tailDone <- s.Tail(tctx, 1, func(m Msg) error {
			select {
			case tailed <- m.Seq:
			default:
			}
			return nil
		})
	}()
	defer func() { stopTail(); <-tailDone }()
	if _, err := s.Commit(ctx, Append{Subject: subj, NoCheck: true, Record: rec("before")}); err != nil {
		t.Fatal(err)
	}
	testdisk.Fill(t, filepath.Join(root, "ballast"))
	big := rec("fill")
	big.Snapshot = []byte(`"` + strings.Repeat("y", 8000) + `"`)
	var err error
	var acked []uint64
	for i := 0; i < 2000 && err == nil; i++ {
		cctx, ccancel := context.WithTimeout(ctx, 3*time.Second)
		var a Ack
		a, err = s.Commit(cctx, Append{Subject: subj, NoCheck: true, Record: big})
		ccancel()
		if err == nil {
			acked = append(acked, a.Seq)
		}
	}
	if err == nil {
		t.Fatal("2000 appends of 8 KB succeeded on a full 16 MB filesystem")
	}
	t.Logf("append on a full disk after %d more: %v", len(acked), err)
	if !errors.Is(err, ErrUnavailable) && !errors.Is(err, ErrFull) {
		t.Fatalf("append on a full disk: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.Health(ctx) == nil {
		if time.Now().After(deadline) {
			t.Fatal("Health is nil 5s after an append failed on a full disk")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("health on a full disk: %v", s.Health(ctx))
	// Once the store knows the disk is full, appends are refused at once
	// and say so.
	deadline = time.Now().Add(5 * time.Second)
	for {
		start := time.Now()
		_, err := s.Commit(ctx, Append{Subject: subj, NoCheck: true, Record: big})
		if errors.Is(err, ErrFull) && strings.Contains(err.Error(), "store full") && time.Since(start) < 100*time.Millisecond {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("append on a known full disk: %v after %v, want ErrFull at once", err, time.Since(start))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := os.Remove(filepath.Join(root, "ballast")); err != nil {
		t.Fatal(err)
	}
	freed := time.Now()
	for s.Health(ctx) != nil {
		if time.Since(freed) > 20*time.Second {
			t.Fatalf("still unhealthy 20s after space was freed: %v\nlog:\n%s", s.Health(ctx), logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	a, err := s.Commit(ctx, Append{Subject: subj, NoCheck: true, Record: rec("after")})
	if err != nil {
		t.Fatalf("append after space was freed: %v\nlog:\n%s", err, logs.String())
	}
	t.Logf("healthy and appending %v after space was freed", time.Since(freed).Round(time.Millisecond))
	for _, seq := range acked {
		if _, err := s.Get(ctx, seq); err != nil {
			t.Fatalf("acknowledged record %d lost: %v", seq, err)
		}
	}
	for seq := uint64(0); seq < a.Seq; {
		select {
		case seq = <-tailed:
		case <-time.After(10 * time.Second):
			t.Fatalf("the tail did not deliver %d after the heal (last %d)\nlog:\n%s", a.Seq, seq, logs.String())
		}
	}
	for _, want := range []string{"nats: ", "append failed"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}
