package main

import "testing"

func TestParseQuorum(t *testing.T) {
	for _, tc := range []struct {
		in    string
		nodes int
		want  int
		ok    bool
	}{
		{"2", 3, 2, true}, {"3", 3, 3, true}, {"4", 3, 0, false}, {"0", 3, 0, false}, {"x", 3, 0, false},
		{"80%", 5, 4, true}, {"50%", 3, 2, true}, {"100%", 7, 7, true}, {"1%", 3, 1, true},
		{"0%", 3, 0, false}, {"101%", 3, 0, false}, {"%", 3, 0, false},
	} {
		got, err := parseQuorum(tc.in, tc.nodes)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseQuorum(%q, %d) = %d, %v; want %d ok=%v", tc.in, tc.nodes, got, err, tc.want, tc.ok)
		}
	}
}
