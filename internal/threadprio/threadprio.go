// Package threadprio runs a goroutine's bulk work at a lower CPU priority
// than the rest of the process.
//
// Go has no goroutine priorities, but Linux gives each thread a nice value
// of its own. A goroutine locked to its thread can lower that thread's
// priority; when the CPU is short, the kernel then runs the process's other
// threads (and other processes at the process's own nice) first. herald
// uses it for the hub's bulk fan-out: writing an event to thousands of
// subscribers is throughput work, a write's acknowledgement is latency
// work (docs/decisions.md, "Bulk fan-out below the rest").
package threadprio

import "errors"

// MaxNice is the highest (least favoured) nice value a thread can have.
const MaxNice = 19

// ErrUnsupported reports a platform where threads have no priority of
// their own (Lower did nothing).
var ErrUnsupported = errors.ErrUnsupported

// Lower locks the calling goroutine to its OS thread and raises that
// thread's nice value by steps (capped at MaxNice), so the thread runs at
// a lower priority than the rest of the process. steps <= 0 does nothing.
//
// The thread never goes back to the runtime: the goroutine must exit still
// locked, and its thread then ends with it, so no other goroutine ever runs
// at the lowered priority. On failure the goroutine is left unlocked.
func Lower(steps int) error {
	if steps <= 0 {
		return nil
	}
	return lower(steps)
}

// Nice is the nice value of the calling goroutine's current thread (what
// Lower changed; meaningful only while the goroutine is locked to it).
func Nice() (int, error) { return nice() }
