//go:build linux

package bench

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// allowedCPUs lists the CPUs this process may run on.
func allowedCPUs() ([]int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil, err
	}
	var cpus []int
	for c := 0; len(cpus) < set.Count(); c++ {
		if set.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}

func cpuSet(cpus []int) *unix.CPUSet {
	var set unix.CPUSet
	for _, c := range cpus {
		set.Set(c)
	}
	return &set
}

// startOn starts cmd with every thread of the new process on cpus (nil:
// as this process). A child inherits the CPUs of the thread that forks
// it, so the start runs on a thread of its own, pinned and locked to a
// goroutine that never unlocks it: the thread ends with the goroutine,
// and no other goroutine ever runs on it. (So cmd must not set
// SysProcAttr.Pdeathsig: it fires when the forking thread ends.)
func startOn(cmd *exec.Cmd, cpus []int) error {
	if cpus == nil {
		return cmd.Start()
	}
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.SchedSetaffinity(0, cpuSet(cpus)); err != nil {
			done <- fmt.Errorf("pin to CPU %s: %w", cpuList(cpus), err)
			return
		}
		done <- cmd.Start()
	}()
	return <-done
}

// pinProcess moves every thread of this process to cpus and sets
// GOMAXPROCS to their number (new threads inherit a creator's CPUs; the
// threads are walked twice, for one created meanwhile). The returned
// function moves them all back and restores GOMAXPROCS.
func pinProcess(cpus []int) (restore func(), err error) {
	var prev unix.CPUSet
	if err := unix.SchedGetaffinity(0, &prev); err != nil {
		return nil, err
	}
	procs := runtime.GOMAXPROCS(0)
	if err := setThreads(cpuSet(cpus)); err != nil {
		_ = setThreads(&prev)
		return nil, fmt.Errorf("pin the bench to CPU %s: %w", cpuList(cpus), err)
	}
	runtime.GOMAXPROCS(len(cpus))
	return func() {
		_ = setThreads(&prev)
		runtime.GOMAXPROCS(procs)
	}, nil
}

// setThreads sets the affinity of every thread of this process.
func setThreads(set *unix.CPUSet) error {
	for range 2 {
		tids, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return err
		}
		for _, t := range tids {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			if err := unix.SchedSetaffinity(tid, set); err != nil && err != unix.ESRCH {
				return err
			}
		}
	}
	return nil
}
