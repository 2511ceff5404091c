package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/lifecycle"
	"github.com/herald-sse/herald/views"
)

// nodeStateView is one line of node_states (SPEC §5.1).
type nodeStateView struct {
	NodeName     string `json:"node_name"`
	Status       string `json:"status"`       // online | offline
	Availability string `json:"availability"` // available | unavailable
}

func nodeStateViews(st []views.NodeStatus) []nodeStateView {
	out := make([]nodeStateView, len(st))
	for i, s := range st {
		out[i] = nodeStateView{NodeName: s.Name, Status: "offline", Availability: "unavailable"}
		if s.Online {
			out[i].Status = "online"
		}
		if s.Available {
			out[i].Availability = "available"
		}
	}
	return out
}

// nodeStates: GET /organizations/{org}/pushy/node_states — every node that
// has a node key in the domain.
func (a *API) nodeStates(w http.ResponseWriter, r *http.Request) {
	org, _, err := a.pushyDomain(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	names := a.views.Auth.NodeKeys(org)
	writeJSON(w, http.StatusOK, nodeStateViews(a.views.NodeStatuses(org, names, time.Now())))
}

// nodeState: GET /organizations/{org}/pushy/node_states/{node}.
func (a *API) nodeState(w http.ResponseWriter, r *http.Request) {
	org, _, err := a.pushyDomain(r)
	node := r.PathValue("node")
	if err == nil && (!herald.ValidSlug(node) || !slices.Contains(a.views.Auth.NodeKeys(org), node) && !a.views.HasNode(org, node)) {
		err = notFoundf("no node %q in organization %q", truncate(node, 80), org)
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, nodeStateViews(a.views.NodeStatuses(org, []string{node}, time.Now()))[0])
}

type heartbeatReq struct {
	Incarnation *string `json:"incarnation"`
	JobID       *string `json:"job_id"`
}

// heartbeat: POST /organizations/{org}/pushy/nodes/{node}/heartbeat
// {"incarnation", "job_id"?} → 200 {"heartbeat_interval"}. A new
// incarnation (the agent restarted), or a heartbeat after the node was
// already due down (outside nodeGrace), first takes the node down in the
// live jobs it is engaged in. A job_id that disagrees with the server's view on two
// heartbeats in a row sends the node to rehab for that job. The presence is
// written only when it changes or needs extending (views.NodeState).
func (a *API) heartbeat(w http.ResponseWriter, r *http.Request) {
	org, node, k, err := a.nodeActor(r)
	var req heartbeatReq
	if err == nil {
		err = decodeRequest(r, &req)
	}
	if err == nil {
		err = checkHeartbeat(&req)
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	inc, reported := *req.Incarnation, ""
	if req.JobID != nil {
		reported = *req.JobID
	}
	prev, known := a.views.Node(org, node)
	now := time.Now().UTC()
	switch {
	case known && prev.State.Incarnation != inc:
		err = a.downNode(ctx, org, node, lifecycle.NewIncarnation)
	case known && !prev.State.OnlineAt(now) && !a.nodeGrace(now):
		err = a.downNode(ctx, org, node, lifecycle.MissedHeartbeats)
	}
	mismatch := strings.Join(a.heartbeatMismatch(org, node, reported), ",")
	if err == nil && mismatch != "" && known && prev.State.Incarnation == inc && prev.State.Mismatch == mismatch {
		err = a.rehabMismatch(ctx, org, node, reported, strings.Split(mismatch, ","))
		mismatch = ""
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	interval := a.heartbeatInterval()
	answer := map[string]string{"heartbeat_interval": interval.String()}
	r2 := r.Clone(ctx)
	r2.Header.Del("Idempotency-Key") // heartbeats are idempotent; their records are compacted
	_, err = a.commit(ctx, r2, k, func() (change, any, error) {
		e, ok := a.views.Node(org, node)
		if !ok {
			e.State = views.NodeState{Domain: org, Name: node}
		}
		next, write := e.State.Beat(inc, mismatch, interval, time.Now().UTC())
		if !write {
			return change{}, nil, errNoChange
		}
		return nodeChange(next, e.Seq, http.StatusOK), answer, nil
	})
	if err != nil && !errors.Is(err, errNoChange) {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, answer)
}

func checkHeartbeat(req *heartbeatReq) error {
	if req.Incarnation == nil || *req.Incarnation == "" {
		return herald.FieldErrorf("incarnation", "is required: an id the agent picks at each start")
	}
	inc := *req.Incarnation
	if len(inc) > 128 || strings.ContainsFunc(inc, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return herald.FieldErrorf("incarnation", "must be at most 128 characters without control characters")
	}
	if req.JobID != nil && *req.JobID != "" && !validJobID(*req.JobID) {
		return herald.FieldErrorf("job_id", "must be a job id (32 lowercase hex digits) or absent, got %q", truncate(*req.JobID, 80))
	}
	return nil
}

// mismatched reports whether a node's heartbeat reporting job `reported`
// ("" for none) disagrees with job j: j is the reported job but the node
// takes no part in it any more (and owes no abort to it yet), or j is a live
// job the server has the node running but the node reports something else.
func mismatched(j *lifecycle.Job, node, reported string) bool {
	if j.ID == reported {
		_, member := j.Nodes[node]
		return member && !j.Engaged(node) && !j.AbortOwed[node]
	}
	return !j.Finished() && j.Nodes[node] == lifecycle.NodeRunning
}

// heartbeatMismatch lists, sorted, the jobs node's heartbeat disagrees
// with. A job id the server does not know is ignored.
func (a *API) heartbeatMismatch(org, node, reported string) []string {
	var out []string
	if reported != "" {
		if e, ok := a.views.Job(org, reported); ok && mismatched(&e.Job, node, reported) {
			out = append(out, reported)
		}
	}
	for _, e := range a.views.NodeJobs(org, node) {
		if e.Job.ID != reported && mismatched(&e.Job, node, reported) {
			out = append(out, e.Job.ID)
		}
	}
	slices.Sort(out)
	return out
}

// rehabMismatch sends node to rehab for each job it disagrees with (SPEC
// §5.5), if it still does on the current state: in a live job that is a
// rehab event (and, if it was running, run_complete crashed); in a finished
// job an abort alone.
func (a *API) rehabMismatch(ctx context.Context, org, node, reported string, jobs []string) error {
	for _, id := range jobs {
		err := a.jobStep(ctx, org, id, func(j lifecycle.Job, now time.Time) (lifecycle.Job, []lifecycle.Event, []lifecycle.Command, error) {
			if !mismatched(&j, node, reported) {
				return j, nil, nil, nil
			}
			// A message that has no place in the node's state is what the
			// machine treats as a confused node: rehab.
			msg := lifecycle.MsgAckCommit
			if j.Status == lifecycle.JobVoting && j.Nodes[node].Active() {
				msg = lifecycle.MsgSucceeded
			}
			return j.NodeMessage(node, msg, now)
		})
		if err != nil {
			return err
		}
	}
	return nil
}
