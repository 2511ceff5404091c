package main

import (
	"os"
	"runtime"
)

// procs sets how many Go processors herald serve runs and returns how many
// of them the hub's writers may take (api.Config.Writers).
//
// The writers spend most of their time in write system calls, one per
// stream turn. A goroutine in a system call keeps its processor, so with
// as many processors as cores the writers and the request path share
// them: a write's request, its store append and its acknowledgement then
// wait in the run queue behind a fan-out to thousands (measured by
// `herald bench isolation`; docs/decisions.md, "Processors: twice the
// cores"). herald therefore runs twice as many processors as the cores Go
// found (GOMAXPROCS's default, which follows a container's CPU limit) and
// keeps its writers to one fewer than those cores. GOMAXPROCS in the
// environment is taken as given: then the writers get GOMAXPROCS-1.
func procs() (writers int) {
	n := runtime.GOMAXPROCS(0)
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(2 * n)
	}
	return max(1, n-1)
}

// defaultWriterNice is --writer-nice's default: the writers run bulk
// fan-out 3 nice steps below the rest of the server (about half the CPU
// share of a thread at the server's own priority; docs/decisions.md,
// "Bulk fan-out below the rest" and "Bulk fan-out 3 nice steps down").
// At 10 a sweep gave way to every other busy thread on the machine, and
// an event to 10,000 streams took longer than before issue 13 at the
// same load.
const defaultWriterNice = 3
