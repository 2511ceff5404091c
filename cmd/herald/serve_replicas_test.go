package main

import (
	"strings"
	"testing"
)

// TestServeReplicasFlag: --replicas outside 0–5, or above 1 without
// --nats (the embedded store keeps 1 copy), is refused before anything
// starts, naming the flag.
func TestServeReplicasFlag(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"negative", []string{"--replicas", "-1", "--nats", "nats://127.0.0.1:1"}},
		{"too many", []string{"--replicas", "6", "--nats", "nats://127.0.0.1:1"}},
		{"embedded", []string{"--replicas", "3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := newRoot()
			root.SetArgs(append([]string{"serve", "--listen", "127.0.0.1:0", "--data", t.TempDir()}, tc.args...))
			root.SilenceUsage, root.SilenceErrors = true, true
			err := root.Execute()
			if err == nil || !strings.Contains(err.Error(), "--replicas") {
				t.Fatalf("err %v, want one naming --replicas", err)
			}
		})
	}
}
