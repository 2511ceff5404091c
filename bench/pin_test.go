package bench

import (
	"slices"
	"testing"
)

func TestSplitCPUs(t *testing.T) {
	for _, tc := range []struct {
		cpus        []int
		server, gen []int
	}{
		{[]int{0, 1}, []int{0}, []int{1}},
		{[]int{0, 1, 2}, []int{0, 1}, []int{2}},
		{[]int{2, 5, 7, 9}, []int{2, 5}, []int{7, 9}},
	} {
		s, ok := split(tc.cpus)
		if !ok || !slices.Equal(s.server, tc.server) || !slices.Equal(s.gen, tc.gen) {
			t.Errorf("split(%v) = %v %v, %v; want %v %v", tc.cpus, s.server, s.gen, ok, tc.server, tc.gen)
		}
		// The server's half is its own slice: appending to it does
		// not write into the load generator's.
		_ = append(s.server, -1)
		if !slices.Equal(s.gen, tc.gen) {
			t.Errorf("split(%v): appending to the server's half changed the other: %v", tc.cpus, s.gen)
		}
	}
	for _, cpus := range [][]int{nil, {3}} {
		if _, ok := split(cpus); ok {
			t.Errorf("split(%v) is ok", cpus)
		}
	}
	s, _ := split([]int{0, 1, 2, 3})
	if got, want := s.String(), "server and B's writer on CPU 0,1, load generator on CPU 2,3"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
