package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/lifecycle"
	"github.com/herald-sse/herald/store"
)

// jobRecordEnds reports whether a job record holds the job's job_complete.
func jobRecordEnds(m *store.Msg) bool {
	for _, e := range m.Record.Events {
		if e.Name == lifecycle.EventJobComplete {
			return true
		}
	}
	return false
}

// feedPrecheck runs the checks every push-jobs feed makes before its 200:
// the organization, the Accept header, and that the server is not stopping.
func (a *API) feedPrecheck(r *http.Request) (string, error) {
	org, _, err := a.pushyDomain(r)
	if err != nil {
		return "", err
	}
	if err := acceptEventStream(r); err != nil {
		return "", err
	}
	if a.closing.Load() {
		return "", herald.Errorf(herald.EUnavailable, "the server is shutting down; reconnect")
	}
	return org, nil
}

// jobFeed: GET /organizations/{org}/pushy/job_status_feed/{id} (SPEC §5.3).
// A running job: its events since start (or after a recognized id), then
// live until job_complete, then the stream ends. A finished job: the events
// after a recognized id (204 when none is left); else, within
// Config.JobFeedLinger of its end, its whole history (as Chef keeps the
// stream a few seconds after completion), or later one summary event (no
// id); then the end.
func (a *API) jobFeed(w http.ResponseWriter, r *http.Request) {
	org, err := a.feedPrecheck(r)
	var j lifecycle.Job
	var seq uint64
	if err == nil {
		j, seq, err = a.visibleJob(r.Context(), org, r.PathValue("id"))
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	after, recognized := a.resumePoint(r)
	ctx := r.Context()
	subject := store.Subject("job", org, j.ID)
	if j.Finished() {
		if recognized && a.endedFeed(w, r, subject, after, seq) {
			return
		}
		st := a.openStream(w, r, nil)
		defer st.close()
		if recognized {
			_, _ = st.replay(ctx, subject, after, seq, nil)
			return
		}
		if a.jobLingers(j, time.Now()) {
			_, _ = st.replay(ctx, subject, herald.ID{}, seq, nil)
			return
		}
		now := time.Now().UTC()
		if !now.After(j.LastEventAt) {
			now = j.LastEventAt.Add(time.Microsecond)
		}
		st.addSynthetic(lifecycle.EventSummary, j.SummaryEvent(now).Data)
		_ = st.flush()
		return
	}
	sub := &hub.Sub{Topic: jobTopic(org, j.ID), Key: caller(r).AccessKey, Login: loginOf(r)}
	start := a.hub.Subscribe(sub)
	st := a.openStream(w, r, sub)
	defer st.close()
	if !recognized {
		after = herald.ID{}
	}
	ended, err := st.replay(ctx, subject, after, start, jobRecordEnds)
	if err != nil || ended {
		return
	}
	st.live(ctx, func(d *hub.Delivery) bool {
		st.addRecord(d.Msg, d.Frames)
		return jobRecordEnds(d.Msg)
	})
}

// orgFeed: GET /organizations/{org}/pushy/job_status_feed (SPEC §5.4): the
// start and job_complete of every job of the domain. No id: live only. A
// recognized id: the events after it, then live. An unrecognized or expired
// id: start_of_history, every retained event, then live. It never ends by
// itself.
func (a *API) orgFeed(w http.ResponseWriter, r *http.Request) {
	org, err := a.feedPrecheck(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	given := r.Header.Get("Last-Event-ID") != "" || r.URL.Query().Get("lastEventId") != ""
	after, recognized := a.resumePoint(r)
	if recognized && after.Seq < a.views.PurgedUpTo(org) {
		recognized = false // expired: some of the history after it is gone
	}
	sub := &hub.Sub{Topic: orgTopic(org), Key: caller(r).AccessKey, Login: loginOf(r)}
	start := a.hub.Subscribe(sub)
	st := a.openStream(w, r, sub)
	defer st.close()
	ctx := r.Context()
	switch {
	case recognized:
		if err := a.replayOrg(ctx, st, org, after, start); err != nil {
			return
		}
	case given:
		data, _ := json.Marshal(map[string]string{"timestamp": a.historyStart(ctx, org).UTC().Format(jobTimeLayout)})
		st.addSynthetic("start_of_history", data)
		if err := a.replayOrg(ctx, st, org, herald.ID{}, start); err != nil {
			return
		}
	}
	st.live(ctx, func(d *hub.Delivery) bool {
		st.addOrgEvents(d.Msg, d.Extra)
		return false
	})
}

// replayOrg sends the organization-feed events of org after `after` up to
// record upto. The views name the records to read: each job's first record
// and the one with its job_complete.
func (a *API) replayOrg(ctx context.Context, st *stream, org string, after herald.ID, upto uint64) error {
	st.last = after
	for _, seq := range a.views.OrgHistory(org, max(after.Seq, 1), upto) {
		m, err := a.store.Get(ctx, seq)
		if err != nil {
			continue // purged meanwhile
		}
		st.addOrgEvents(&m, nil)
		if len(st.buf) >= 32<<10 {
			if err := st.flush(); err != nil {
				return err
			}
		}
	}
	return st.flush()
}

// historyStart is start_of_history's timestamp: when the oldest retained
// job of org started, or, with none, the start of the retained window.
func (a *API) historyStart(ctx context.Context, org string) time.Time {
	if t, ok := a.views.OldestJobTime(org); ok {
		return t
	}
	t := time.Now().Add(-a.cfg.Retention)
	if _, _, first, err := a.store.Info(ctx); err == nil && first.After(t) {
		t = first
	}
	return t
}

// DefaultJobFeedLinger is the default Config.JobFeedLinger: Chef keeps a
// job's stream 5 s after completion.
const DefaultJobFeedLinger = 5 * time.Second

// jobLingers reports whether finished job j ended less than
// Config.JobFeedLinger before now: its feed then replays the whole history
// rather than the summary.
func (a *API) jobLingers(j lifecycle.Job, now time.Time) bool {
	linger := a.cfg.JobFeedLinger
	if linger == 0 {
		linger = DefaultJobFeedLinger
	}
	return linger > 0 && now.Sub(j.LastEventAt) < linger
}
