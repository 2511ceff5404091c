package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// LockFile is the file in the data directory that the process owning the
// directory holds an exclusive flock on, with its PID inside.
const LockFile = "LOCK"

// ErrLocked reports that another process owns the data directory.
var ErrLocked = errors.New("store: data directory in use")

// LockedError names the directory and the process holding it.
type LockedError struct {
	Dir string
	PID int // 0 when the holder's PID could not be read
}

func (e *LockedError) Error() string {
	who := "another process"
	if e.PID > 0 {
		who = "process " + strconv.Itoa(e.PID)
	}
	return fmt.Sprintf("data directory %s is in use by %s (another herald serve?); stop it or use another --data", e.Dir, who)
}

// Unwrap makes errors.Is(err, ErrLocked) hold.
func (e *LockedError) Unwrap() error { return ErrLocked }

// DirLock is an exclusive, process-wide claim on a data directory: an
// flock(2) on <dir>/LOCK, released by Unlock or when the process exits
// (the kernel drops the lock, so a crash never leaves it stale).
type DirLock struct {
	f *os.File
}

// LockDir takes the exclusive lock on dir (creating dir when needed) and
// writes this process's PID into the lock file. It fails at once with a
// *LockedError when another process holds it.
func LockDir(dir string) (*DirLock, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("store: create data directory: %w", err)
	}
	path := filepath.Join(abs, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: lock %s: %w", path, err)
	}
	if err := flock(f); err != nil {
		b := make([]byte, 32)
		n, _ := f.ReadAt(b, 0)
		f.Close()
		if errors.Is(err, errWouldBlock) {
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b[:n])))
			return nil, &LockedError{Dir: abs, PID: pid}
		}
		return nil, fmt.Errorf("store: lock %s: %w", path, err)
	}
	pid := []byte(strconv.Itoa(os.Getpid()) + "\n")
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt(pid, 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("store: lock %s: %w", path, err)
	}
	return &DirLock{f: f}, nil
}

// Unlock releases the lock. The PID stays in the file; it means nothing
// once no process holds the flock.
func (l *DirLock) Unlock() {
	if l == nil || l.f == nil {
		return
	}
	funlock(l.f)
	l.f.Close()
	l.f = nil
}
