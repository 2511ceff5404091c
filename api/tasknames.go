package api

import "fmt"

// The values of Config.TaskEventNames (--task-event-names).
const (
	// TaskNamesHerald names task events as SPEC §4 documents them:
	// task_updated, task_done, task_failed, task_cancelled (the default).
	TaskNamesHerald = "herald"
	// TaskNamesBackendAI names them as the current Backend.AI manager
	// does, which its web UI and client listen for: bgtask_updated,
	// bgtask_done, bgtask_failed, bgtask_cancelled.
	TaskNamesBackendAI = "backend.ai"
)

// CheckTaskEventNames refuses a --task-event-names value herald does not
// know ("" is the default).
func CheckTaskEventNames(s string) error {
	switch s {
	case "", TaskNamesHerald, TaskNamesBackendAI:
		return nil
	}
	return fmt.Errorf("--task-event-names %q: use %s or %s", s, TaskNamesHerald, TaskNamesBackendAI)
}

// taskEventRenames maps the stored task event names to the names the
// feeds send under naming s; nil when they are sent as stored. Events
// are stored under their SPEC names whatever the naming, so the flag can
// change between restarts; frames are named when they are encoded (once
// per record, see frame), so a naming costs nothing per subscriber.
func taskEventRenames(s string) map[string]string {
	if s != TaskNamesBackendAI {
		return nil
	}
	return map[string]string{
		"task_updated":   "bgtask_updated",
		"task_done":      "bgtask_done",
		"task_failed":    "bgtask_failed",
		"task_cancelled": "bgtask_cancelled",
	}
}
