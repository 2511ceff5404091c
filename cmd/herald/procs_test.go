package main

import (
	"runtime"
	"testing"
)

// TestProcs: herald serve runs twice the Go processors it found and keeps
// its stream writers to one fewer than those, unless GOMAXPROCS is set.
func TestProcs(t *testing.T) {
	prev := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(prev)
	for _, c := range []struct {
		env            string
		found          int
		writers, procs int
	}{
		{"", 2, 1, 4},
		{"", 8, 7, 16},
		{"", 1, 1, 2},
		{"3", 3, 2, 3}, // set by the operator: taken as given
		{"1", 1, 1, 1},
	} {
		t.Setenv("GOMAXPROCS", c.env)
		runtime.GOMAXPROCS(c.found)
		w := procs()
		if w != c.writers || runtime.GOMAXPROCS(0) != c.procs {
			t.Errorf("GOMAXPROCS=%q, %d found: writers %d, procs %d; want %d, %d", c.env, c.found, w, runtime.GOMAXPROCS(0), c.writers, c.procs)
		}
	}
}
