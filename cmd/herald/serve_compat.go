package main

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/herald-sse/herald/api"
)

// compatOpts are serve's flags for drop-in use by existing clients
// (issue 15).
type compatOpts struct {
	taskEventNames string
	taskStaleAfter time.Duration
}

func (o *compatOpts) flags(f *pflag.FlagSet) {
	f.DurationVar(&o.taskStaleAfter, "task-stale-after", 0, "fail a running background task whose producer has not reported for this long, with a message saying so (0: never)")
	f.StringVar(&o.taskEventNames, "task-event-names", api.TaskNamesHerald, "names of the task feed's events: "+api.TaskNamesHerald+" (task_updated, task_done, task_failed, task_cancelled) or "+api.TaskNamesBackendAI+" (bgtask_updated, bgtask_done, bgtask_failed, bgtask_cancelled, as the Backend.AI manager sends)")
}

// check refuses flag values herald does not know.
func (o *compatOpts) check() error {
	if o.taskStaleAfter < 0 {
		return fmt.Errorf("--task-stale-after %s: give a positive duration, or 0 for never", o.taskStaleAfter)
	}
	return api.CheckTaskEventNames(o.taskEventNames)
}

// apply sets the flags in cfg.
func (o *compatOpts) apply(cfg *api.Config) {
	cfg.TaskEventNames = o.taskEventNames
	cfg.TaskStaleAfter = o.taskStaleAfter
}
