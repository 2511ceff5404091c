package main

import (
	"strings"
	"testing"
)

// TestServeWriterNiceFlag: --writer-nice outside 0–19 is refused before
// anything starts, naming the flag and the range.
func TestServeWriterNiceFlag(t *testing.T) {
	for _, v := range []string{"-1", "20"} {
		t.Run(v, func(t *testing.T) {
			root := newRoot()
			root.SetArgs([]string{"serve", "--listen", "127.0.0.1:0", "--data", t.TempDir(), "--writer-nice", v})
			root.SilenceUsage, root.SilenceErrors = true, true
			err := root.Execute()
			if err == nil || !strings.Contains(err.Error(), "--writer-nice") || !strings.Contains(err.Error(), "19") {
				t.Fatalf("err %v, want one naming --writer-nice and its range", err)
			}
		})
	}
}
