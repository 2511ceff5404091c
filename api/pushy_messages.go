package api

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/lifecycle"
	"github.com/herald-sse/herald/store"
	"github.com/herald-sse/herald/views"
)

type nodeMessageReq struct {
	Type   *string `json:"type"`
	JobID  *string `json:"job_id"`
	Stdout *string `json:"stdout"`
	Stderr *string `json:"stderr"`
	// Reason is the node's short reason for a nack_commit or failed
	// (optional, at most lifecycle.MaxNodeReason characters).
	Reason *string `json:"reason"`
}

// nodeMessageAnswer is the answer to a node message: where the node and
// the job stand after it.
type nodeMessageAnswer struct {
	JobID      string               `json:"job_id"`
	Node       string               `json:"node"`
	NodeStatus lifecycle.NodeStatus `json:"node_status"`
	JobStatus  lifecycle.JobStatus  `json:"job_status"`
}

func validMessageType(t string) bool {
	switch lifecycle.NodeMessageType(t) {
	case lifecycle.MsgAckCommit, lifecycle.MsgNackCommit, lifecycle.MsgAckRun, lifecycle.MsgNackRun,
		lifecycle.MsgSucceeded, lifecycle.MsgFailed, lifecycle.MsgAborted:
		return true
	}
	return false
}

// nodeMessage: POST /organizations/{org}/pushy/nodes/{node}/messages
// {"type","job_id","stdout"?,"stderr"?} → 200 {"job_id","node",
// "node_status","job_status"}. Every check is made before anything is
// written; with capture_output the output is stored first, then the
// message is applied to the job (under the job's lock, with CAS).
func (a *API) nodeMessage(w http.ResponseWriter, r *http.Request) {
	org, node, k, err := a.nodeActor(r)
	var req nodeMessageReq
	if err == nil {
		err = decodeRequest(r, &req)
	}
	switch {
	case err != nil:
	case req.Type == nil:
		err = herald.FieldErrorf("type", "is required: ack_commit, nack_commit, ack_run, nack_run, succeeded, failed or aborted")
	case !validMessageType(*req.Type):
		err = herald.FieldErrorf("type", "must be ack_commit, nack_commit, ack_run, nack_run, succeeded, failed or aborted, got %q", truncate(*req.Type, 40))
	case req.JobID == nil || *req.JobID == "":
		err = herald.FieldErrorf("job_id", "is required")
	case !validJobID(*req.JobID):
		err = herald.FieldErrorf("job_id", "must be a job id (32 lowercase hex digits), got %q", truncate(*req.JobID, 80))
	case req.Reason != nil && utf8.RuneCountInString(*req.Reason) > lifecycle.MaxNodeReason:
		err = herald.FieldErrorf("reason", "is %d characters; at most %d are kept", utf8.RuneCountInString(*req.Reason), lifecycle.MaxNodeReason)
	}
	var j lifecycle.Job
	if err == nil {
		j, _, err = a.visibleJob(r.Context(), org, *req.JobID)
	}
	if err == nil {
		if _, member := j.Nodes[node]; !member {
			err = notFoundf("node %q is not part of job %s", node, j.ID)
		}
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	msg := lifecycle.NodeMessageType(*req.Type)
	unlock := a.lockJob(org, j.ID)
	defer unlock()
	if j.Spec.CaptureOutput && (req.Stdout != nil || req.Stderr != nil) {
		if err := a.captureOutput(r, k, org, node, msg, views.OutputSnapshot{JobID: j.ID, Node: node, Stdout: req.Stdout, Stderr: req.Stderr}); err != nil {
			a.writeError(w, r, err)
			return
		}
	}
	var current nodeMessageAnswer
	ans, err := a.commit(r.Context(), r, k, func() (change, any, error) {
		e, ok := a.views.Job(org, j.ID)
		if !ok {
			return change{}, nil, notFoundf("no job %s in organization %q", j.ID, org)
		}
		var reason string
		if req.Reason != nil {
			reason = *req.Reason
		}
		nj, evs, cmds, err := e.Job.NodeReport(node, msg, reason, time.Now().UTC())
		if err != nil {
			return change{}, nil, err
		}
		current = nodeMessageAnswer{JobID: nj.ID, Node: node, NodeStatus: nj.Nodes[node], JobStatus: nj.Status}
		if nj.Version == e.Job.Version {
			return change{}, nil, errNoChange
		}
		return jobChange(nj, evs, cmds, e.Seq, http.StatusOK), current, nil
	})
	switch {
	case errors.Is(err, errNoChange):
		writeJSON(w, http.StatusOK, current)
	case err != nil:
		a.writeError(w, r, err)
	default:
		writeAnswer(w, ans)
	}
}

// captureOutput stores a node's output only with the message that ends the
// node's run in a job still going (succeeded, failed, …: the node leaves
// new/ready/running by it), checked against the job before anything is
// written. Once the node finished or the job ended its captured output is
// immutable: late messages store nothing. Called under the job's lock,
// before the message itself is applied.
func (a *API) captureOutput(r *http.Request, k *auth.Key, org, node string, msg lifecycle.NodeMessageType, out views.OutputSnapshot) error {
	e, ok := a.views.Job(org, out.JobID)
	if !ok || e.Job.Finished() || !e.Job.Nodes[node].Active() {
		return nil
	}
	nj, _, _, err := e.Job.NodeMessage(node, msg, time.Now().UTC())
	if err != nil {
		return err
	}
	if nj.Version == e.Job.Version || nj.Nodes[node].Active() {
		return nil
	}
	return a.storeOutput(r, k, out, org)
}

// storeOutput appends a node's output for a job (kind "output", one
// subject per job and node; the last report wins). With an Idempotency-Key
// the output write gets its own key derived from it, so a retry rewrites
// nothing.
func (a *API) storeOutput(r *http.Request, k *auth.Key, out views.OutputSnapshot, org string) error {
	r2 := r.Clone(r.Context())
	if key := r.Header.Get("Idempotency-Key"); key != "" {
		sum := sha256.Sum256([]byte(key))
		r2.Header.Set("Idempotency-Key", "output:"+hex.EncodeToString(sum[:]))
	}
	snap, _ := json.Marshal(out)
	_, err := a.commit(r.Context(), r2, k, func() (change, any, error) {
		return change{status: http.StatusOK, app: store.Append{
			Subject: views.OutputSubject(org, out.JobID, out.Node),
			NoCheck: true,
			Record:  store.Record{Kind: "output", Domain: org, Entity: out.JobID, Snapshot: snap},
		}}, struct{}{}, nil
	})
	return err
}
