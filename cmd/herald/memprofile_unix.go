//go:build unix

package main

import (
	"os"
	"os/signal"
	"syscall"
)

// onProfileSignal calls fn at each SIGUSR1 until the returned stop.
func onProfileSignal(fn func()) (stop func()) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGUSR1)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-c:
				fn()
			case <-done:
				return
			}
		}
	}()
	return func() { signal.Stop(c); close(done) }
}
