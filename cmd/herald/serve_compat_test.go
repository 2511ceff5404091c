package main

import (
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/herald-sse/herald/api"
)

// TestServeCompatFlags: --task-event-names and --task-stale-after reach
// api.Config; an unknown naming or a negative duration is refused; serve
// has both flags.
func TestServeCompatFlags(t *testing.T) {
	for _, name := range []string{"task-event-names", "task-stale-after"} {
		if newServeCmd().Flags().Lookup(name) == nil {
			t.Fatalf("serve has no --%s", name)
		}
	}
	for _, tc := range []struct {
		args    []string
		names   string
		stale   time.Duration
		wantErr bool
	}{
		{nil, api.TaskNamesHerald, 0, false},
		{[]string{"--task-event-names", "backend.ai", "--task-stale-after", "90s"}, api.TaskNamesBackendAI, 90 * time.Second, false},
		{[]string{"--task-event-names", "bogus"}, "", 0, true},
		{[]string{"--task-stale-after", "-1s"}, "", 0, true},
	} {
		var o compatOpts
		f := pflag.NewFlagSet("serve", pflag.ContinueOnError)
		o.flags(f)
		if err := f.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		err := o.check()
		if (err != nil) != tc.wantErr {
			t.Fatalf("%v: check %v", tc.args, err)
		}
		if err != nil {
			continue
		}
		var cfg api.Config
		o.apply(&cfg)
		if cfg.TaskEventNames != tc.names || cfg.TaskStaleAfter != tc.stale {
			t.Fatalf("%v: config %q %v", tc.args, cfg.TaskEventNames, cfg.TaskStaleAfter)
		}
	}
}
