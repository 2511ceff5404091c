package api

import (
	"net/http"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/lifecycle"
)

// jobSummaryWithFile is a job read with ?include_file=true: the summary
// and the job's file as it was submitted (its raw: or base64: prefix
// included), as Chef's push-jobs server answers.
type jobSummaryWithFile struct {
	lifecycle.JobSummary
	File string `json:"file"`
}

// includeFile reads ?include_file= (true or false; absent is false).
func includeFile(r *http.Request) (bool, error) {
	switch v := r.URL.Query().Get("include_file"); v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, herald.FieldErrorf("include_file", "must be true or false, got %q", truncate(v, 40))
	}
}

// writeJobWithFile answers a job read with ?include_file=true: the
// summary and, when the job has one, its file, read from the job's start
// record (the views keep only its digest).
func (a *API) writeJobWithFile(w http.ResponseWriter, r *http.Request, org string, j lifecycle.Job, sum lifecycle.JobSummary) {
	if j.Spec.File == "" && j.Spec.FileDigest == "" {
		writeJSON(w, http.StatusOK, sum)
		return
	}
	e, ok := a.views.Job(org, j.ID)
	if !ok {
		a.writeError(w, r, notFoundf("no job %q in organization %q", j.ID, org))
		return
	}
	spec, err := a.startSpec(r.Context(), e.Job.Spec, e.CreatedSeq)
	if err != nil {
		a.writeError(w, r, unavailable(err))
		return
	}
	writeJSON(w, http.StatusOK, jobSummaryWithFile{JobSummary: sum, File: spec.File})
}
