package threadprio

import (
	"errors"
	"runtime"
	"testing"
)

// onThread runs fn on a goroutine of its own and returns what it returned.
func onThread(fn func() (int, error)) (int, error) {
	type res struct {
		n   int
		err error
	}
	c := make(chan res)
	go func() {
		n, err := fn()
		c <- res{n, err}
	}()
	r := <-c
	return r.n, r.err
}

func TestLower(t *testing.T) {
	if runtime.GOOS != "linux" {
		if err := Lower(3); !errors.Is(err, ErrUnsupported) {
			t.Fatalf("Lower on %s = %v, want ErrUnsupported", runtime.GOOS, err)
		}
		t.Skip("threads have no nice value of their own here")
	}
	base, err := onThread(func() (int, error) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		return Nice()
	})
	if err != nil {
		t.Fatal(err)
	}
	if base > MaxNice-3 {
		t.Skipf("the test runs at nice %d: no room to lower by 3", base)
	}
	// The goroutine exits locked, so its thread (at the lowered
	// priority) ends with it.
	got, err := onThread(func() (int, error) {
		if err := Lower(3); err != nil {
			return 0, err
		}
		return Nice()
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != base+3 {
		t.Fatalf("after Lower(3) the thread runs at nice %d, want %d", got, base+3)
	}
	capped, err := onThread(func() (int, error) {
		if err := Lower(100); err != nil {
			return 0, err
		}
		return Nice()
	})
	if err != nil || capped != MaxNice {
		t.Fatalf("after Lower(100): nice %d, %v; want %d", capped, err, MaxNice)
	}
	// No other goroutine ever runs on a lowered thread: the lowered
	// ones ended with their goroutines.
	for range 50 {
		n, err := onThread(func() (int, error) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			return Nice()
		})
		if err != nil || n != base {
			t.Fatalf("a later goroutine runs at nice %d (%v), want %d", n, err, base)
		}
	}
	if err := Lower(0); err != nil {
		t.Fatalf("Lower(0) = %v", err)
	}
}
