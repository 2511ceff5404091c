package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/herald-sse/herald/client"
)

// jobView is the state a job watcher draws: the job's status and one
// status per node.
type jobView struct {
	id, command, status string
	nodes               map[string]string
	reasons             map[string]string // why a node failed, when its event said
	order               []string
	drawn               int // lines drawn last time (terminal mode)
}

func newJobView(id string) *jobView {
	return &jobView{id: id, status: "new", nodes: map[string]string{}, reasons: map[string]string{}}
}

func (v *jobView) set(node, status string) {
	if _, ok := v.nodes[node]; !ok {
		v.order = append(v.order, node)
		sort.Strings(v.order)
	}
	v.nodes[node] = status
}

// voteStatus maps a quorum_vote or run_complete status to the node's status.
var voteStatus = map[string]string{
	"success": "ready", "failure": "nacked", "down": "unavailable", "client_died_while_voting": "unavailable",
	"lost_availability": "unavailable", "voting_timeout": "unavailable", "unexpected_commit": "ready",
}
var runStatus = map[string]string{
	"success": "succeeded", "failure": "failed", "run_nacked": "failed", "run_nacked_while_running": "failed",
	"crashed": "crashed", "client_died_while_running": "crashed", "timed_out": "timed_out", "aborted": "aborted",
}

type jobEventData struct {
	Node    string              `json:"node"`
	Status  string              `json:"status"`
	Reason  string              `json:"reason"`
	Command string              `json:"command"`
	Nodes   map[string][]string `json:"nodes"`
}

// apply folds one job-feed event into the view.
func (v *jobView) apply(e client.Event) {
	var d jobEventData
	_ = json.Unmarshal([]byte(e.Data), &d)
	if d.Node != "" && d.Reason != "" {
		v.reasons[d.Node] = d.Reason
	}
	switch e.Type {
	case "start":
		v.command, v.status = d.Command, "voting"
	case "quorum_vote":
		v.set(d.Node, voteStatus[d.Status])
	case "quorum_succeeded":
		v.status = "running"
	case "run_start":
		v.set(d.Node, "running")
	case "run_complete":
		s := runStatus[d.Status]
		if s == "" {
			s = d.Status
		}
		v.set(d.Node, s)
	case "job_complete":
		v.status = d.Status
	case "summary":
		v.status, v.command = d.Status, d.Command
		for status, names := range d.Nodes {
			for _, n := range names {
				v.set(n, status)
			}
		}
	}
}

// ok reports the job completed with every node succeeded.
func (v *jobView) ok() bool {
	if v.status != "complete" {
		return false
	}
	for _, s := range v.nodes {
		if s != "succeeded" {
			return false
		}
	}
	return true
}

// draw redraws the view in place (terminal mode).
func (v *jobView) draw(w io.Writer) {
	var b strings.Builder
	if v.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", v.drawn)
	}
	fmt.Fprintf(&b, "\x1b[2Kjob %s  %-13s %s\n", shortID(v.id), v.status, v.command)
	for _, n := range v.order {
		if r := v.reasons[n]; r != "" {
			fmt.Fprintf(&b, "\x1b[2K  %-24s %s: %s\n", n, v.nodes[n], r)
			continue
		}
		fmt.Fprintf(&b, "\x1b[2K  %-24s %s\n", n, v.nodes[n])
	}
	v.drawn = 1 + len(v.order)
	_, _ = io.WriteString(w, b.String())
}

func newWatchJobCmd(o *watchOpts) *cobra.Command {
	return &cobra.Command{
		Use:   "job ORG JOB_ID",
		Short: "Follow a push job: one line per node, updated in place, until it completes",
		Example: `  herald watch job acme 0123456789abcdef0123456789abcdef
  herald watch job acme 0123456789abcdef0123456789abcdef --json`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return watchJob(cmd, o, args[0], args[1])
		},
	}
}

func watchJob(cmd *cobra.Command, o *watchOpts, org, id string) error {
	out := cmd.OutOrStdout()
	tty := !o.json && isTerminal(out)
	v := newJobView(id)
	path := "/organizations/" + q(org) + "/pushy/job_status_feed/" + q(id)
	err := o.follow(cmd.Context(), path, []string{"job_complete", "summary"}, func(e client.Event) error {
		v.apply(e)
		switch {
		case o.json:
			printRaw(out, e)
		case tty:
			v.draw(out)
		default:
			fmt.Fprintln(out, jobLine(time.Now(), e))
		}
		return nil
	})
	if err != nil {
		return err
	}
	if v.ok() {
		return nil
	}
	return exitError{1}
}

// jobLine is one job-feed event as a line: time, event, node, status and,
// when the event says why, the reason ("quorum_vote web-1 failure: user
// deploy does not exist").
func jobLine(now time.Time, e client.Event) string {
	var d jobEventData
	_ = json.Unmarshal([]byte(e.Data), &d)
	line := now.Format("15:04:05") + " " + e.Type
	if d.Node != "" {
		line += " " + d.Node
	}
	if d.Status != "" {
		line += " " + d.Status
	}
	if d.Reason != "" {
		line += ": " + d.Reason
	}
	return line
}

func newWatchOrgCmd(o *watchOpts) *cobra.Command {
	return &cobra.Command{
		Use:   "org ORG",
		Short: "Follow every push job of an organization (start and job_complete)",
		Example: `  herald watch org acme
  herald watch org acme --last-event-id 8x3k…-120   # resume; an unknown id replays the retained history`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			return o.follow(cmd.Context(), "/organizations/"+q(args[0])+"/pushy/job_status_feed", nil, func(e client.Event) error {
				if o.json {
					printRaw(out, e)
					return nil
				}
				var d struct {
					Timestamp, Job, Command, Status, User string
					NodeCount                             int `json:"node_count"`
				}
				_ = json.Unmarshal([]byte(e.Data), &d)
				switch e.Type {
				case "start":
					fmt.Fprintf(out, "%s start        %s %q on %d nodes by %s\n", d.Timestamp, d.Job, d.Command, d.NodeCount, d.User)
				case "job_complete":
					fmt.Fprintf(out, "%s job_complete %s %s\n", d.Timestamp, d.Job, d.Status)
				default:
					fmt.Fprintf(out, "%s %s\n", d.Timestamp, e.Type)
				}
				return nil
			})
		},
	}
}
