package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// maxLine bounds one line of the JSON stream; maxKept bounds the output
// kept for one running test (its head is shown if it fails).
const (
	maxLine = 4 << 20
	maxKept = 256 << 10
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string `json:"Action"`
	Package string `json:"Package"`
	Test    string `json:"Test"`
	Output  string `json:"Output"`
}

type counts struct{ passed, failed, skipped int }

// summary keeps each running test's output until it ends: shown when it
// failed, dropped when it passed.
type summary struct {
	out     io.Writer
	counts  counts
	kept    map[string]*strings.Builder // package + " " + test → its output so far
	pkgFail map[string]bool             // packages with a failed test
}

func newSummary(out io.Writer) *summary {
	return &summary{out: out, kept: map[string]*strings.Builder{}, pkgFail: map[string]bool{}}
}

// line handles one line of the stream; a line that is not JSON is printed
// as it is.
func (s *summary) line(b []byte) {
	var e event
	if err := json.Unmarshal(b, &e); err != nil || e.Action == "" {
		fmt.Fprintf(s.out, "%s\n", b)
		return
	}
	if e.Test == "" {
		s.packageEvent(e)
		return
	}
	key := e.Package + " " + e.Test
	switch e.Action {
	case "output":
		k := s.kept[key]
		if k == nil {
			k = &strings.Builder{}
			s.kept[key] = k
		}
		if k.Len() < maxKept {
			k.WriteString(e.Output)
			if k.Len() >= maxKept {
				k.WriteString("\n[… output cut]\n")
			}
		}
	case "pass", "fail", "skip":
		if e.Action == "fail" {
			if k := s.kept[key]; k != nil {
				io.WriteString(s.out, k.String())
			}
			s.pkgFail[e.Package] = true
		}
		delete(s.kept, key)
		if strings.Contains(e.Test, "/") {
			return // a subtest: its parent counts
		}
		switch e.Action {
		case "pass":
			s.counts.passed++
		case "fail":
			s.counts.failed++
		case "skip":
			s.counts.skipped++
		}
	}
}

// packageEvent prints a package's own output (its result line, build
// errors, a panic outside any test) and counts a package that failed
// without a failed test.
func (s *summary) packageEvent(e event) {
	switch e.Action {
	case "output", "build-output":
		if e.Output != "PASS\n" && e.Output != "FAIL\n" {
			io.WriteString(s.out, e.Output)
		}
	case "fail", "build-fail":
		if !s.pkgFail[e.Package] {
			s.counts.failed++
			s.pkgFail[e.Package] = true
		}
	}
}
