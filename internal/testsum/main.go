// Command testsum reads `go test -json` from stdin and prints a quiet log:
// every package's result line, the full output of each failed test, and
// at the end one line "N passed, N failed". Run by test.sh.
//
//	go test -json ./... | go run ./internal/testsum -counts counts.txt
//
// A test counts once, subtests not separately; a package that fails with
// no failed test (a build error, a panic outside a test, a timeout) counts
// as one failure. With -counts it also writes "passed failed skipped" to
// that file. The exit status is 1 when anything failed.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	countsPath := flag.String("counts", "", "also write \"passed failed skipped\" to this file")
	flag.Parse()
	s := newSummary(os.Stdout)
	if err := s.read(os.Stdin); err != nil {
		fmt.Fprintln(os.Stderr, "testsum:", err)
		os.Exit(2)
	}
	c := s.counts
	fmt.Fprintf(os.Stdout, "go test: %d passed, %d failed, %d skipped\n", c.passed, c.failed, c.skipped)
	if *countsPath != "" {
		if err := os.WriteFile(*countsPath, fmt.Appendf(nil, "%d %d %d\n", c.passed, c.failed, c.skipped), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "testsum:", err)
			os.Exit(2)
		}
	}
	if c.failed > 0 {
		os.Exit(1)
	}
}

// readAll feeds every line of r to s.
func (s *summary) read(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	for sc.Scan() {
		s.line(sc.Bytes())
	}
	return sc.Err()
}
