package bench

import (
	"fmt"
	"strconv"
	"strings"
)

// cpuSplit is how the isolation scenario shares the machine's processors
// between the server under test and its load generator: the server (and
// tenant B's writer process) on the first half of the CPUs the bench may
// use, the bench process itself (tenant A's subscribers and publishers)
// on the rest. On a machine where the clients are other machines the
// server's cores run the server alone; on one machine, pinning is how the
// bench keeps 10,000 decoding readers from taking the server's CPU in the
// middle of the measurement (docs/benchmarks.md, "Isolation under load").
type cpuSplit struct {
	server, gen []int
}

// split divides cpus (ascending) into the server's half (the first
// ceil(n/2)) and the load generator's (the rest); ok is false with fewer
// than two.
func split(cpus []int) (cpuSplit, bool) {
	if len(cpus) < 2 {
		return cpuSplit{}, false
	}
	h := (len(cpus) + 1) / 2
	return cpuSplit{server: cpus[:h:h], gen: cpus[h:]}, true
}

// String names the split as the results' params do.
func (s cpuSplit) String() string {
	return fmt.Sprintf("server and B's writer on CPU %s, load generator on CPU %s", cpuList(s.server), cpuList(s.gen))
}

// cpuList formats CPU numbers as a comma-separated list.
func cpuList(cpus []int) string {
	s := make([]string, len(cpus))
	for i, c := range cpus {
		s[i] = strconv.Itoa(c)
	}
	return strings.Join(s, ",")
}
