package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/herald-sse/herald/client"
)

// warnUnknownNodes writes a warning for each node of a job that no node
// key in org names (node_states does not list it): it will vote down. A
// key that cannot list the nodes gets no warning.
func warnUnknownNodes(ctx context.Context, w io.Writer, c *client.Client, org string, nodes []string) {
	states, err := c.NodeStates(ctx, org)
	if err != nil {
		return
	}
	known := make([]string, 0, len(states))
	for _, s := range states {
		known = append(known, s.NodeName)
	}
	for _, n := range nodes {
		if !slices.Contains(known, n) {
			fmt.Fprintf(w, "herald: warning: organization %q has no node %q (no node key names it): it will vote down\n", org, n)
		}
	}
}

// answerProblem reads a problem+json answer as a *client.Error (its status
// line when the body is not one).
func answerProblem(resp *http.Response, body []byte) error {
	e := &client.Error{}
	if json.Unmarshal(body, e) != nil || e.Title == "" {
		e = &client.Error{Title: http.StatusText(resp.StatusCode), Detail: strings.TrimSpace(string(body))}
	}
	e.Status = resp.StatusCode
	return e
}

// explainNoOutput turns a 404 of `herald job output` into a sentence: the
// job was started without --capture, or the node has no such output (the
// server's own words).
func explainNoOutput(ctx context.Context, cf *clientFlags, org, id, node, stream string, err error) error {
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != http.StatusNotFound {
		return err
	}
	if c, cerr := cf.client(); cerr == nil {
		if j, jerr := c.GetJob(ctx, org, id); jerr == nil && !j.CaptureOutput {
			return fmt.Errorf("job %s was started without --capture, so no output was kept; start it again with `herald job start --capture …`", id)
		}
	}
	if ce.Detail != "" {
		return errors.New(ce.Detail)
	}
	return fmt.Errorf("no %s of node %s in job %s", stream, node, id)
}
