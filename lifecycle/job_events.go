package lifecycle

import (
	"bytes"
	"encoding/json"
	"time"
)

// The job feed's event names (SPEC §5.3). summary is synthetic: never stored.
const (
	EventStart           = "start"
	EventQuorumVote      = "quorum_vote"
	EventQuorumSucceeded = "quorum_succeeded"
	EventRunStart        = "run_start"
	EventRunComplete     = "run_complete"
	EventRehab           = "rehab"
	EventJobComplete     = "job_complete"
	EventSummary         = "summary"
)

// JobEventNames returns the names of the events a job's transitions emit.
func JobEventNames() []string {
	return []string{EventStart, EventQuorumVote, EventQuorumSucceeded, EventRunStart,
		EventRunComplete, EventRehab, EventJobComplete}
}

// The status values of quorum_vote.
const (
	VoteSuccess          = "success"
	VoteFailure          = "failure"
	VoteDown             = "down" // offline, busy or in rehab when the job started
	VoteClientDied       = "client_died_while_voting"
	VoteLostAvailability = "lost_availability"
	VoteTimeout          = "voting_timeout"
	VoteUnexpectedCommit = "unexpected_commit"
)

// The status values of run_complete.
const (
	RunSuccess            = "success"
	RunFailure            = "failure"
	RunNacked             = "run_nacked"
	RunNackedWhileRunning = "run_nacked_while_running"
	RunCrashed            = "crashed"
	RunClientDied         = "client_died_while_running"
)

// jobTimeLayout is the job feeds' timestamp: UTC, a space, microseconds, Z.
const jobTimeLayout = "2006-01-02 15:04:05.000000Z"

func formatJobTime(t time.Time) string { return t.UTC().Format(jobTimeLayout) }

// The data of each job event, fields in wire order: timestamp first.
type (
	jobStartData struct {
		Timestamp     string            `json:"timestamp"`
		Command       string            `json:"command"`
		RunTimeout    int               `json:"run_timeout"`
		Quorum        int               `json:"quorum"`
		NodeCount     int               `json:"node_count"`
		User          string            `json:"user"`
		JobUser       string            `json:"job_user,omitempty"`
		Dir           string            `json:"dir,omitempty"`
		Env           map[string]string `json:"env,omitempty"`
		FileSpecified bool              `json:"file_specified,omitempty"`
		Capture       bool              `json:"capture"`
	}
	nodeStatusData struct {
		Timestamp string `json:"timestamp"`
		Node      string `json:"node"`
		Status    string `json:"status"`
		// Reason is the node's own words on a failure vote or a failed
		// run, when it gave some.
		Reason string `json:"reason,omitempty"`
	}
	nodeData struct {
		Timestamp string `json:"timestamp"`
		Node      string `json:"node"`
	}
	statusData struct {
		Timestamp string `json:"timestamp"`
		Status    string `json:"status"`
	}
	tsData struct {
		Timestamp string `json:"timestamp"`
	}
)

func (t *jobTx) startData() jobStartData {
	s := t.j.Spec
	return jobStartData{
		Timestamp:     t.stamp(),
		Command:       s.Command,
		RunTimeout:    s.RunTimeout,
		Quorum:        s.Quorum,
		NodeCount:     len(s.Nodes),
		User:          s.RequestedBy,
		JobUser:       s.User,
		Dir:           s.Dir,
		Env:           s.Env,
		FileSpecified: s.HasFile(),
		Capture:       s.CaptureOutput,
	}
}

// OrgEventData returns the organization feed's data for a job event (SPEC
// §5.4): for start and job_complete, e's data with "job": jobID inserted
// right after timestamp. It reports false for every other event, and for data
// that does not begin with a timestamp.
func OrgEventData(jobID string, e Event) (json.RawMessage, bool) {
	if e.Name != EventStart && e.Name != EventJobComplete {
		return nil, false
	}
	const prefix = `{"timestamp":`
	d := []byte(e.Data)
	if !bytes.HasPrefix(d, []byte(prefix)) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(d[len(prefix):]))
	var ts string
	if err := dec.Decode(&ts); err != nil {
		return nil, false
	}
	off := len(prefix) + int(dec.InputOffset())
	if off >= len(d) || (d[off] != ',' && d[off] != '}') {
		return nil, false
	}
	id := jsonData(jobID)
	out := make([]byte, 0, len(d)+len(id)+7)
	out = append(out, d[:off]...)
	out = append(out, `,"job":`...)
	out = append(out, id...)
	out = append(out, d[off:]...)
	return out, true
}
