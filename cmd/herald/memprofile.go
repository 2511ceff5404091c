package main

import (
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
)

// heapProfiler writes the server's heap profiles for --memprofile (a
// hidden flag, for investigating memory): each allocation is recorded
// (runtime.MemProfileRate 1, which slows allocation: not for production),
// and a profile of what is live is written to the file on SIGUSR1 (Unix;
// `herald bench idle` sends it while its connections are open), or, when
// none was asked for, as the server begins to stop, before its streams
// end. Read one with `go tool pprof -sample_index=inuse_space -lines -top
// FILE`.
type heapProfiler struct {
	file    string
	log     *slog.Logger
	mu      sync.Mutex
	written bool
	stop    func()
}

// startHeapProfiler returns nil for an empty file.
func startHeapProfiler(file string, log *slog.Logger) *heapProfiler {
	if file == "" {
		return nil
	}
	runtime.MemProfileRate = 1
	p := &heapProfiler{file: file, log: log}
	p.stop = onProfileSignal(func() { p.write(true) })
	return p
}

// atStop writes the profile unless one was written on a signal.
func (p *heapProfiler) atStop() {
	if p != nil {
		p.write(false)
	}
}

// write writes the profile (after a collection, so that it is current);
// again only when asked by a signal.
func (p *heapProfiler) write(again bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.written && !again {
		return
	}
	p.written = true
	runtime.GC()
	err := writeHeapProfile(p.file)
	if err != nil {
		p.log.Warn("--memprofile: writing the heap profile failed", "file", p.file, "err", err)
		return
	}
	p.log.Info("heap profile written", "file", p.file)
}

func writeHeapProfile(file string) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("write: %w", err)
	}
	return f.Close()
}

func (p *heapProfiler) close() {
	if p != nil {
		p.stop()
	}
}
