package main

import (
	"github.com/spf13/pflag"

	"github.com/herald-sse/herald/api"
)

// compatOpts are serve's flags for drop-in use by existing clients
// (issue 15).
type compatOpts struct {
	taskEventNames string
}

func (o *compatOpts) flags(f *pflag.FlagSet) {
	f.StringVar(&o.taskEventNames, "task-event-names", api.TaskNamesHerald, "names of the task feed's events: "+api.TaskNamesHerald+" (task_updated, task_done, task_failed, task_cancelled) or "+api.TaskNamesBackendAI+" (bgtask_updated, bgtask_done, bgtask_failed, bgtask_cancelled, as the Backend.AI manager sends)")
}

// check refuses flag values herald does not know.
func (o *compatOpts) check() error {
	return api.CheckTaskEventNames(o.taskEventNames)
}

// apply sets the flags in cfg.
func (o *compatOpts) apply(cfg *api.Config) {
	cfg.TaskEventNames = o.taskEventNames
}
