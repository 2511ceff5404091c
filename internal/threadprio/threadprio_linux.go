//go:build linux

package threadprio

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

func lower(steps int) error {
	runtime.LockOSThread()
	cur, err := nice()
	if err == nil {
		// PRIO_PROCESS with a thread id addresses that one thread.
		err = unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), min(MaxNice, cur+steps))
	}
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("threadprio: lower this thread's priority by %d: %w", steps, err)
	}
	return nil
}

func nice() (int, error) {
	// The system call answers 20 - nice (1..40), so that no valid
	// answer is negative; x/sys passes it on unchanged.
	p, err := unix.Getpriority(unix.PRIO_PROCESS, unix.Gettid())
	if err != nil {
		return 0, err
	}
	return 20 - p, nil
}
