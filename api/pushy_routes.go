package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/lifecycle"
	"github.com/herald-sse/herald/views"
)

// pushyRoutes registers the push-jobs API (SPEC §5) under
// /organizations/{org}/pushy/. Every feed path has the seed's
// jobs_status_feed spelling as an alias.
func (a *API) pushyRoutes(m *http.ServeMux) {
	const p = "/organizations/{org}/pushy"
	m.HandleFunc("POST "+p+"/jobs", a.authed(a.startJob))
	m.HandleFunc("GET "+p+"/jobs", a.authed(a.listJobs))
	m.HandleFunc("GET "+p+"/jobs/{id}", a.authed(a.getJob))
	m.HandleFunc("POST "+p+"/jobs/{id}/abort", a.authed(a.abortJob))
	m.HandleFunc("GET "+p+"/jobs/{id}/output/{node}/{stream}", a.authed(a.jobOutput))
	m.HandleFunc("GET "+p+"/node_states", a.authed(a.nodeStates))
	m.HandleFunc("GET "+p+"/node_states/{node}", a.authed(a.nodeState))
	m.HandleFunc("GET "+p+"/_status", a.authed(a.pushyStatusHandler))
	for _, feed := range []string{"job_status_feed", "jobs_status_feed"} {
		m.HandleFunc("GET "+p+"/"+feed, a.feed(a.orgFeed))
		m.HandleFunc("GET "+p+"/"+feed+"/{id}", a.feed(a.jobFeed))
	}
	m.HandleFunc("GET "+p+"/nodes/{node}/commands", a.feed(a.nodeCommands))
	m.HandleFunc("POST "+p+"/nodes/{node}/heartbeat", a.authed(a.heartbeat))
	m.HandleFunc("POST "+p+"/nodes/{node}/messages", a.authed(a.nodeMessage))
}

// pushyDomain resolves {org}: an existing domain the caller belongs to.
// Anything else is 404, so other domains' existence does not leak.
func (a *API) pushyDomain(r *http.Request) (string, *auth.Key, error) {
	k := caller(r)
	org := r.PathValue("org")
	if !herald.ValidSlug(org) || !k.MemberOf(org) {
		return "", k, notFoundf("no organization %q", truncate(org, 80))
	}
	if _, ok := a.views.Auth.Domain(org); !ok {
		return "", k, notFoundf("no organization %q", org)
	}
	return org, k, nil
}

// nodeActor resolves {org} and {node} for the node protocol's writes: only
// the node key of that node may act as it.
func (a *API) nodeActor(r *http.Request) (string, string, *auth.Key, error) {
	org, k, err := a.pushyDomain(r)
	if err != nil {
		return "", "", k, err
	}
	node := r.PathValue("node")
	if !herald.ValidSlug(node) {
		return "", "", k, notFoundf("no node %q", truncate(node, 80))
	}
	if k.Role != herald.RoleNode || k.Node != node {
		return "", "", k, forbiddenf("only the node key of %q may act as that node", node)
	}
	return org, node, k, nil
}

// validJobID reports whether s is a job id: 32 lowercase hex digits.
func validJobID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// visibleJob returns a retained job of org, or 404. A job this node has
// not seen yet (started through another node) is waited for (barrier.go).
func (a *API) visibleJob(ctx context.Context, org, id string) (lifecycle.Job, uint64, error) {
	if !validJobID(id) {
		return lifecycle.Job{}, 0, notFoundf("no job %q in organization %q", truncate(id, 80), org)
	}
	e, err := orCatchUp(ctx, a, func() (views.JobEntry, error) {
		if e, ok := a.views.Job(org, id); ok && !a.jobExpired(e.Job, time.Now()) {
			return e, nil
		}
		return views.JobEntry{}, notFoundf("no job %q in organization %q", truncate(id, 80), org)
	})
	return e.Job, e.Seq, err
}

// jobExpired reports whether a job finished longer ago than the retention
// (the janitor purges it soon).
func (a *API) jobExpired(j lifecycle.Job, now time.Time) bool {
	return j.Finished() && now.Sub(j.UpdatedAt) > a.cfg.Retention
}

// acceptEventStream checks the feeds' Accept rule (SPEC §5.3): absent,
// text/event-stream, text/* or */* is fine; anything else, such as
// application/json alone, is 406.
func acceptEventStream(r *http.Request) error {
	vals := r.Header.Values("Accept")
	if len(vals) == 0 {
		return nil
	}
	for _, v := range vals {
		for _, part := range strings.Split(v, ",") {
			mt, _, _ := strings.Cut(part, ";")
			switch strings.ToLower(strings.TrimSpace(mt)) {
			case "", "text/event-stream", "text/*", "*/*":
				return nil
			}
		}
	}
	return herald.Errorf(herald.ENotAcceptable, "this feed sends text/event-stream; the Accept header %q does not allow it", truncate(strings.Join(vals, ", "), 120))
}

// pushyURI is the absolute URI of an organization's push-jobs API.
func (a *API) pushyURI(r *http.Request, org string) string {
	return a.baseURL(r) + "/organizations/" + org + "/pushy"
}

// jobURI is the absolute URI of a job, as POST /pushy/jobs returns it.
func (a *API) jobURI(r *http.Request, org, id string) string {
	return a.pushyURI(r, org) + "/jobs/" + id
}

// The hub topics of push jobs.
func jobTopic(domain, id string) string    { return "job/" + domain + "/" + id }
func orgTopic(domain string) string        { return "org/" + domain }
func nodeTopic(domain, node string) string { return "node/" + domain + "/" + node }

// jobTimeLayout is the job feeds' timestamp: UTC, a space, microseconds, Z.
const jobTimeLayout = "2006-01-02 15:04:05.000000Z"
