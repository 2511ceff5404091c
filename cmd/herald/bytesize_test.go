package main

import "testing"

func TestParseBytes(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{"0", 0, false},
		{"1024", 1024, false},
		{"64K", 64 << 10, false},
		{"500MB", 500e6, false},
		{"8GiB", 8 << 30, false},
		{"2 TB", 2e12, false},
		{"12B", 12, false},
		{"-1", 0, true},
		{"lots", 0, true},
		{"1.5GB", 0, true},
		{"99999999999TiB", 0, true},
	} {
		got, err := parseBytes(c.in)
		if (err != nil) != c.bad || got != c.want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d (error: %v)", c.in, got, err, c.want, c.bad)
		}
	}
}
