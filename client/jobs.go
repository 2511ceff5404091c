package client

import (
	"context"
	"net/url"
	"strings"
	"time"
)

// JobSpec is the body of POST /organizations/{org}/pushy/jobs. Zero
// RunTimeout and Quorum are left out (the server's defaults apply).
type JobSpec struct {
	Command       string            `json:"command"`
	Nodes         []string          `json:"nodes"`
	RunTimeout    int               `json:"run_timeout,omitempty"`
	Quorum        int               `json:"quorum,omitempty"`
	User          string            `json:"user,omitempty"`
	Dir           string            `json:"dir,omitempty"`
	Env           map[string]string `json:"env,omitempty"`
	File          string            `json:"file,omitempty"`
	CaptureOutput bool              `json:"capture_output,omitempty"`
}

// JobSummary is a push job's summary (SPEC §5.1).
type JobSummary struct {
	ID            string              `json:"id"`
	Command       string              `json:"command"`
	Status        string              `json:"status"`
	RunTimeout    int                 `json:"run_timeout"`
	Quorum        int                 `json:"quorum"`
	RequestedBy   string              `json:"requested_by"`
	CreatedAt     string              `json:"created_at"`
	UpdatedAt     string              `json:"updated_at"`
	Nodes         map[string][]string `json:"nodes,omitempty"`
	User          string              `json:"user,omitempty"`
	Dir           string              `json:"dir,omitempty"`
	Env           map[string]string   `json:"env,omitempty"`
	CaptureOutput bool                `json:"capture_output,omitempty"`
	FileSpecified bool                `json:"file_specified,omitempty"`
}

// NodeState is a node's line in node_states.
type NodeState struct {
	NodeName     string `json:"node_name"`
	Status       string `json:"status"`
	Availability string `json:"availability"`
}

// NodeMessage is a node agent's message about a job (SPEC §5.5).
type NodeMessage struct {
	Type   string  `json:"type"`
	JobID  string  `json:"job_id"`
	Stdout *string `json:"stdout,omitempty"`
	Stderr *string `json:"stderr,omitempty"`
	// Reason says shortly why a vote or a run failed.
	Reason string `json:"reason,omitempty"`
}

// NodeMessageAnswer is the server's answer to a node message.
type NodeMessageAnswer struct {
	JobID      string `json:"job_id"`
	Node       string `json:"node"`
	NodeStatus string `json:"node_status"`
	JobStatus  string `json:"job_status"`
}

func pushyPath(org string) string { return "/organizations/" + url.PathEscape(org) + "/pushy" }

// StartJob starts a push job in org and returns its id.
func (c *Client) StartJob(ctx context.Context, org string, spec JobSpec, idemKey string) (string, error) {
	var out struct {
		URI string `json:"uri"`
	}
	if err := c.Do(ctx, "POST", pushyPath(org)+"/jobs", spec, &out, idemKey); err != nil {
		return "", err
	}
	return out.URI[strings.LastIndexByte(out.URI, '/')+1:], nil
}

// GetJob returns a job's summary.
func (c *Client) GetJob(ctx context.Context, org, id string) (JobSummary, error) {
	var s JobSummary
	err := c.Do(ctx, "GET", pushyPath(org)+"/jobs/"+url.PathEscape(id), nil, &s, "")
	return s, err
}

// AbortJob aborts a running job and returns its summary.
func (c *Client) AbortJob(ctx context.Context, org, id string) (JobSummary, error) {
	var s JobSummary
	err := c.Do(ctx, "POST", pushyPath(org)+"/jobs/"+url.PathEscape(id)+"/abort", nil, &s, "")
	return s, err
}

// NodeStates lists the nodes of org.
func (c *Client) NodeStates(ctx context.Context, org string) ([]NodeState, error) {
	var out []NodeState
	err := c.Do(ctx, "GET", pushyPath(org)+"/node_states", nil, &out, "")
	return out, err
}

// Heartbeat reports that node is alive as incarnation, running jobID (""
// for none), and returns the pace the server asks for.
func (c *Client) Heartbeat(ctx context.Context, org, node, incarnation, jobID string) (time.Duration, error) {
	body := map[string]string{"incarnation": incarnation}
	if jobID != "" {
		body["job_id"] = jobID
	}
	var out struct {
		Interval string `json:"heartbeat_interval"`
	}
	if err := c.Do(ctx, "POST", pushyPath(org)+"/nodes/"+url.PathEscape(node)+"/heartbeat", body, &out, ""); err != nil {
		return 0, err
	}
	return time.ParseDuration(out.Interval)
}

// SendNodeMessage sends a node's message; idemKey makes retries safe.
func (c *Client) SendNodeMessage(ctx context.Context, org, node string, m NodeMessage, idemKey string) (NodeMessageAnswer, error) {
	var out NodeMessageAnswer
	err := c.Do(ctx, "POST", pushyPath(org)+"/nodes/"+url.PathEscape(node)+"/messages", m, &out, idemKey)
	return out, err
}

// CommandsPath is the path of a node's command feed.
func CommandsPath(org, node string) string {
	return pushyPath(org) + "/nodes/" + url.PathEscape(node) + "/commands"
}
