package client

import (
	"context"
	"net/url"
)

// SessionReport is a producer's report of one session lifecycle event.
type SessionReport struct {
	SessionID      string  `json:"sessionId"`
	OwnerAccessKey string  `json:"ownerAccessKey"`
	Group          string  `json:"group"`
	Event          string  `json:"event"`
	Reason         *string `json:"reason,omitempty"`
	Result         *string `json:"result,omitempty"`
}

// ReportResult is the server's answer to a report.
type ReportResult struct {
	ID    string `json:"id"`
	State string `json:"state"`
}

// ReportSession reports a session event. idemKey ("" for none) makes the
// call safe to retry.
func (c *Client) ReportSession(ctx context.Context, r SessionReport, idemKey string) (ReportResult, error) {
	var out ReportResult
	err := c.Do(ctx, "POST", "/v1/sessions/events", r, &out, idemKey)
	return out, err
}

// Session is a session's current state.
type Session struct {
	SessionID      string  `json:"sessionId"`
	OwnerAccessKey string  `json:"ownerAccessKey"`
	Domain         string  `json:"domain"`
	Group          string  `json:"group"`
	State          string  `json:"state"`
	Reason         *string `json:"reason"`
	Result         *string `json:"result,omitempty"`
}

// Sessions lists the visible sessions (group and state may be "").
func (c *Client) Sessions(ctx context.Context, group, state string) ([]Session, error) {
	q := url.Values{}
	if group != "" {
		q.Set("group", group)
	}
	if state != "" {
		q.Set("state", state)
	}
	var out []Session
	err := getAll(ctx, c, "/v1/sessions?"+q.Encode(), &out)
	return out, err
}
