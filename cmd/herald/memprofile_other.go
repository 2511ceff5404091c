//go:build !unix

package main

// onProfileSignal does nothing: no SIGUSR1 here (the profile is written
// when the server stops).
func onProfileSignal(func()) (stop func()) { return func() {} }
