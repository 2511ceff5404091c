//go:build unix

package netlimit

import "syscall"

// RaiseFileLimit raises the soft open-files limit to the hard one and
// returns the soft limit in force. (Go's runtime does the same at start
// on Linux; doing it here makes the budget explicit everywhere.)
func RaiseFileLimit() (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	if l.Cur < l.Max {
		want := l
		want.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
			return uint64(l.Cur), err
		}
		l = want
	}
	return uint64(l.Cur), nil
}
