package api

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/herald-sse/herald/views"
)

// pushyStatus is the answer of GET /organizations/{org}/pushy/_status,
// shaped like Chef push-jobs server's health endpoint: "it's alive", the
// server process's incarnation, how many of the organization's nodes
// heartbeat, and its unfinished jobs.
type pushyStatus struct {
	Status        string   `json:"status"`
	IncarnationID string   `json:"incarnation_id"`
	NodeFSMCount  int      `json:"node_fsm_count"`
	JobProcesses  []string `json:"job_processes"`
}

// maxStatusJobs bounds job_processes (newest first): a status answer
// stays small whatever --max-open-jobs allows.
const maxStatusJobs = 1000

// newIncarnation returns a random id of this server process, as Chef's
// push-jobs server reports one in its _status.
func newIncarnation() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// pushyStatusHandler: GET /organizations/{org}/pushy/_status. Any key of
// the organization may read it (another organization's is 404, as every
// path under it); /healthz and /readyz are the unauthenticated checks.
func (a *API) pushyStatusHandler(w http.ResponseWriter, r *http.Request) {
	org, _, err := a.pushyDomain(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	now := time.Now()
	online := 0
	for _, s := range a.views.NodeStatuses(org, a.views.Auth.NodeKeys(org), now) {
		if s.Online {
			online++
		}
	}
	open, _, _ := a.views.Jobs(org, "", maxStatusJobs, func(e *views.JobEntry) bool { return !e.Job.Finished() })
	ids := make([]string, len(open))
	for i, e := range open {
		ids[i] = e.Job.ID
	}
	writeJSON(w, http.StatusOK, pushyStatus{Status: "it's alive", IncarnationID: a.incarnation, NodeFSMCount: online, JobProcesses: ids})
}
