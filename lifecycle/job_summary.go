package lifecycle

import (
	"encoding/json"
	"slices"
	"time"
)

// rfc1123GMT is net/http's TimeFormat: the job summary's dates.
const rfc1123GMT = "Mon, 02 Jan 2006 15:04:05 GMT"

// JobSummary is the job summary of SPEC §5.1, served by GET /pushy/jobs/ID and
// (with a timestamp) as the job feed's summary event. For the list, set Nodes
// to nil: list items have no nodes.
type JobSummary struct {
	ID            string                  `json:"id"`
	Command       string                  `json:"command"`
	Status        JobStatus               `json:"status"`
	RunTimeout    int                     `json:"run_timeout"`
	Quorum        int                     `json:"quorum"`
	RequestedBy   string                  `json:"requested_by"`
	CreatedAt     string                  `json:"created_at"` // RFC 1123, GMT
	UpdatedAt     string                  `json:"updated_at"` // RFC 1123, GMT
	Nodes         map[NodeStatus][]string `json:"nodes,omitempty"`
	User          string                  `json:"user,omitempty"` // run-as user
	Dir           string                  `json:"dir,omitempty"`
	Env           map[string]string       `json:"env,omitempty"`
	CaptureOutput bool                    `json:"capture_output,omitempty"`
	FileSpecified bool                    `json:"file_specified,omitempty"`
	// Timestamp is the summary event's timestamp; not part of the REST body.
	Timestamp time.Time `json:"-"`
}

// Summary returns the job's summary; now is the timestamp its event carries.
// nodes lists, per status that has nodes, the node names sorted.
func (j Job) Summary(now time.Time) JobSummary {
	s := JobSummary{
		ID:            j.ID,
		Command:       j.Spec.Command,
		Status:        j.Status,
		RunTimeout:    j.Spec.RunTimeout,
		Quorum:        j.Spec.Quorum,
		RequestedBy:   j.Spec.RequestedBy,
		CreatedAt:     j.CreatedAt.UTC().Format(rfc1123GMT),
		UpdatedAt:     j.UpdatedAt.UTC().Format(rfc1123GMT),
		User:          j.Spec.User,
		Dir:           j.Spec.Dir,
		Env:           j.Spec.Env,
		CaptureOutput: j.Spec.CaptureOutput,
		FileSpecified: j.Spec.HasFile(),
		Timestamp:     now,
	}
	for n, st := range j.Nodes {
		if s.Nodes == nil {
			s.Nodes = make(map[NodeStatus][]string)
		}
		s.Nodes[st] = append(s.Nodes[st], n)
	}
	for _, names := range s.Nodes {
		slices.Sort(names)
	}
	return s
}

// EventData returns the summary event's data: timestamp first, then the
// summary.
func (s JobSummary) EventData() json.RawMessage {
	return jsonData(struct {
		Timestamp string `json:"timestamp"`
		JobSummary
	}{formatJobTime(s.Timestamp), s})
}

// SummaryEvent returns the synthetic summary event of the job feed for a
// finished job (SPEC §5.3) at now.
func (j Job) SummaryEvent(now time.Time) Event {
	return Event{Name: EventSummary, Data: j.Summary(now).EventData()}
}
