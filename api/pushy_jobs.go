package api

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/lifecycle"
	"github.com/herald-sse/herald/views"
)

// jobRequest is the body of POST /pushy/jobs (SPEC §5.1). It is decoded
// strictly, then copied into a lifecycle.JobSpec: the spec's own JSON form
// is the snapshot's, which a caller must not be able to set (requested_by).
type jobRequest struct {
	Command       *string  `json:"command"`
	Nodes         []string `json:"nodes"`
	RunTimeout    *int     `json:"run_timeout"`
	Quorum        *int     `json:"quorum"`
	User          *string  `json:"user"`
	Dir           *string  `json:"dir"`
	Env           jobEnv   `json:"env"`
	File          *string  `json:"file"`
	CaptureOutput *bool    `json:"capture_output"`
}

func (q *jobRequest) spec(requestedBy string) (lifecycle.JobSpec, error) {
	if q.Command == nil {
		return lifecycle.JobSpec{}, herald.FieldErrorf("command", "is required")
	}
	s := lifecycle.JobSpec{Command: *q.Command, Nodes: q.Nodes, Env: q.Env, RequestedBy: requestedBy}
	if q.RunTimeout != nil {
		s.RunTimeout, s.RunTimeoutSet = *q.RunTimeout, true
	}
	if q.Quorum != nil {
		s.Quorum, s.QuorumSet = *q.Quorum, true
	}
	if q.User != nil {
		s.User = *q.User
	}
	if q.Dir != nil {
		s.Dir = *q.Dir
	}
	if q.File != nil {
		s.File = *q.File
	}
	if q.CaptureOutput != nil {
		s.CaptureOutput = *q.CaptureOutput
	}
	if err := lifecycle.ValidateJobSpec(&s); err != nil {
		return s, err
	}
	return s, nil
}

// newJobID returns 32 random lowercase hex digits.
func newJobID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// startJob: POST /organizations/{org}/pushy/jobs → 201, Location and
// {"uri"}; the start event is stored before the answer.
func (a *API) startJob(w http.ResponseWriter, r *http.Request) {
	org, k, err := a.pushyDomain(r)
	if err == nil && !k.CanProduce(org) {
		err = forbiddenf("a %s key cannot start jobs; use a service or admin key", k.Role)
	}
	var req jobRequest
	if err == nil {
		err = decodeRequest(r, &req)
	}
	var spec lifecycle.JobSpec
	if err == nil {
		spec, err = req.spec(k.AccessKey)
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	id := newJobID()
	uri := a.jobURI(r, org, id)
	ans, err := a.commit(r.Context(), r, k, func() (change, any, error) {
		if err := a.openJobsQuota(org); err != nil {
			return change{}, nil, err
		}
		now := time.Now().UTC()
		avail := a.views.Availability(org, spec.Nodes, now)
		j, evs, cmds, err := lifecycle.StartJob(id, org, spec, avail, a.votingTimeout(), now)
		if err != nil {
			return change{}, nil, err
		}
		return jobChange(j, evs, cmds, 0, http.StatusCreated), map[string]string{"uri": uri}, nil
	})
	if err != nil {
		if herald.ErrorCode(err) == herald.ETooMany {
			a.metrics.quotaRefused.WithLabelValues("open_jobs").Inc()
			w.Header().Set("Retry-After", strconv.Itoa(openJobsRetryAfter))
		}
		a.writeError(w, r, err)
		return
	}
	var body struct {
		URI string `json:"uri"`
	}
	if json.Unmarshal(ans.Body, &body) == nil && body.URI != "" {
		w.Header().Set("Location", body.URI)
	}
	// herald addition: the start event's id, so a client can follow the
	// job feed from it (Last-Event-ID) and see every later event even if
	// the job finished before it connected.
	w.Header().Set("Herald-Event-Id", a.eventID(ans))
	writeAnswer(w, ans)
}

// openJobsRetryAfter is the Retry-After (seconds) of a start refused by
// the open-jobs cap: jobs take seconds to minutes to finish.
const openJobsRetryAfter = 30

// openJobsQuota refuses a job start when org already has
// Config.MaxOpenJobs unfinished jobs. Concurrent starts may pass it
// together, so the cap can be exceeded by as many.
func (a *API) openJobsQuota(org string) error {
	limit := a.cfg.MaxOpenJobs
	if limit == 0 {
		limit = DefaultMaxOpenJobs
	}
	if n := a.views.OpenJobs(org); limit > 0 && n >= limit {
		return herald.Errorf(herald.ETooMany, "organization %q has %d unfinished jobs, the most --max-open-jobs allows (%d); retry once some finish", org, n, limit)
	}
	return nil
}

// listJobs: GET /organizations/{org}/pushy/jobs?limit=&before= — summaries
// without nodes, newest first, with Link rel="next" while more remain.
func (a *API) listJobs(w http.ResponseWriter, r *http.Request) {
	org, _, err := a.pushyDomain(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	limit := 50
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			a.writeError(w, r, herald.FieldErrorf("limit", "must be an integer from 1 to 500, got %q", truncate(s, 40)))
			return
		}
		limit = n
	}
	before := q.Get("before")
	if before != "" && !validJobID(before) {
		a.writeError(w, r, herald.FieldErrorf("before", "must be a job id (32 lowercase hex digits), got %q", truncate(before, 80)))
		return
	}
	now := time.Now()
	items, more, ok := a.views.Jobs(org, before, limit, func(e *views.JobEntry) bool { return !a.jobExpired(e.Job, now) })
	if !ok {
		a.writeError(w, r, herald.FieldErrorf("before", "no job %s in organization %q (expired?)", before, org))
		return
	}
	out := make([]lifecycle.JobSummary, len(items))
	for i, e := range items {
		out[i] = e.Job.Summary(now)
		out[i].Nodes = nil
	}
	// At most limit items and the list byte bound; Link names the rest.
	writeList(a, w, r, out, 0, more, "before", func(s lifecycle.JobSummary) string { return s.ID })
}

// getJob: GET /organizations/{org}/pushy/jobs/{id} — the job summary;
// with ?include_file=true also the job's file as submitted (Chef's
// include_file).
func (a *API) getJob(w http.ResponseWriter, r *http.Request) {
	org, _, err := a.pushyDomain(r)
	var j lifecycle.Job
	if err == nil {
		j, _, err = a.visibleJob(r.Context(), org, r.PathValue("id"))
	}
	var withFile bool
	if err == nil {
		withFile, err = includeFile(r)
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	sum := j.Summary(time.Now())
	if withFile {
		a.writeJobWithFile(w, r, org, j, sum)
		return
	}
	writeJSON(w, http.StatusOK, sum)
}

// abortJob: POST /organizations/{org}/pushy/jobs/{id}/abort → 202 and the
// job's summary; a finished job is 409.
func (a *API) abortJob(w http.ResponseWriter, r *http.Request) {
	org, k, err := a.pushyDomain(r)
	id := r.PathValue("id")
	if err == nil {
		_, _, err = a.visibleJob(r.Context(), org, id)
	}
	if err == nil && !k.CanProduce(org) {
		err = forbiddenf("a %s key cannot abort jobs; use a service or admin key", k.Role)
	}
	if err == nil {
		err = decodeRequest(r, &struct{}{})
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	unlock := a.lockJob(org, id)
	defer unlock()
	ans, err := a.commit(r.Context(), r, k, func() (change, any, error) {
		e, ok := a.views.Job(org, id)
		if !ok {
			return change{}, nil, notFoundf("no job %q in organization %q", id, org)
		}
		now := time.Now().UTC()
		nj, evs, cmds, err := e.Job.Abort(now)
		if err != nil {
			return change{}, nil, err
		}
		return jobChange(nj, evs, cmds, e.Seq, http.StatusAccepted), nj.Summary(now), nil
	})
	a.reply(w, r, ans, err)
}

// jobOutput: GET /organizations/{org}/pushy/jobs/{id}/output/{node}/stdout|stderr
// — what the node reported, for a job started with capture_output.
func (a *API) jobOutput(w http.ResponseWriter, r *http.Request) {
	org, _, err := a.pushyDomain(r)
	var j lifecycle.Job
	if err == nil {
		j, _, err = a.visibleJob(r.Context(), org, r.PathValue("id"))
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	node, stream := r.PathValue("node"), r.PathValue("stream")
	if _, member := j.Nodes[node]; !member || (stream != "stdout" && stream != "stderr") {
		a.writeError(w, r, notFoundf("no %s output of node %q in job %s", truncate(stream, 20), truncate(node, 80), j.ID))
		return
	}
	if !j.Spec.CaptureOutput {
		a.writeError(w, r, notFoundf("job %s was started without capture_output", j.ID))
		return
	}
	seq, ok := a.views.Output(org, j.ID, node)
	var out views.OutputSnapshot
	if ok {
		m, err := a.store.Get(r.Context(), seq)
		if err != nil {
			a.writeError(w, r, unavailable(err))
			return
		}
		_ = json.Unmarshal(m.Record.Snapshot, &out)
	}
	text := out.Stdout
	if stream == "stderr" {
		text = out.Stderr
	}
	if text == nil {
		a.writeError(w, r, notFoundf("node %q has not reported %s for job %s", node, stream, j.ID))
		return
	}
	// The bytes as the node sent them, of no known encoding: Chef serves
	// them as application/octet-stream, and a browser must not sniff them.
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(*text))
}
