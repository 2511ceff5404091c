// Package agent is herald's push-jobs node agent: it heartbeats, follows
// its command feed, votes on commits, runs whitelisted commands one at a
// time and reports how they ended (SPEC §5.5).
package agent

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
)

// Whitelist maps the command names a job may ask for to the command lines
// the agent runs for them. Nothing else is ever run.
type Whitelist map[string]string

// LoadWhitelist reads a JSON object {"name": "command line", …}.
func LoadWhitelist(path string) (Whitelist, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("whitelist: %w", err)
	}
	var w Whitelist
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("whitelist %s: want a JSON object of name → command line: %w", path, err)
	}
	for name, line := range w {
		if name == "" || line == "" {
			return nil, fmt.Errorf("whitelist %s: empty name or command line", path)
		}
	}
	return w, nil
}

// Names lists the whitelisted command names.
func (w Whitelist) Names() []string {
	out := make([]string, 0, len(w))
	for n := range w {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
