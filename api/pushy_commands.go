package api

import (
	"net/http"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/lifecycle"
	"github.com/herald-sse/herald/store"
)

// nodeCommands: GET /organizations/{org}/pushy/nodes/{node}/commands — the
// node agent's command feed (SPEC §5.5): commit, run and abort events.
//
// Without a recognized Last-Event-ID it first sends what the node still
// owes an answer to — a commit where it is new, a run where it is ready, an
// abort while in rehab — each with the id of the record that sent it, in id
// order; then every later command live. With a recognized id it replays the
// node's commands after it from the domain's job records, then live.
//
// Only the node key of that node may watch it, and admins of its domain.
func (a *API) nodeCommands(w http.ResponseWriter, r *http.Request) {
	org, err := a.feedPrecheck(r)
	k := caller(r)
	node := r.PathValue("node")
	if err == nil && !herald.ValidSlug(node) {
		err = notFoundf("no node %q", truncate(node, 80))
	}
	if err == nil && !(k.Role == herald.RoleNode && k.Node == node) && !k.SeesDomain(org) {
		err = forbiddenf("only the node key of %q (or an admin) may watch its commands", node)
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	after, recognized := a.resumePoint(r)
	sub := &hub.Sub{Topic: nodeTopic(org, node), Key: k.AccessKey, Login: loginOf(r)}
	start := a.hub.Subscribe(sub)
	st := a.openStream(w, r, sub)
	defer st.close()
	ctx := r.Context()
	covered := start // live records at or below this are already sent
	if recognized {
		// node's commands stored after `after`, read from the domain's job
		// records (bounded by the retention)
		_, err := st.replayWith(ctx, store.Subject("job", org)+".>", after, start, func(m *store.Msg, _ [][]byte) bool {
			st.addCommands(m, nil, node)
			return false
		})
		if err != nil {
			return
		}
	} else {
		owed, upto := a.views.OwedCommands(org, node)
		for _, o := range owed {
			enc := commandEncoder{rec: &store.Record{}}
			if o.Cmd.Type == lifecycle.CmdCommit {
				spec, err := a.startSpec(ctx, o.Job.Spec, o.StartSeq)
				if err != nil {
					a.streamFailed(r, err)
					return
				}
				enc.commit = commitJSON(o.Job.ID, spec)
			}
			if o.Ref.Seq == 0 {
				st.addSynthetic(o.Cmd.Type, enc.data(o.Cmd))
				continue
			}
			id := herald.ID{Epoch: a.store.Epoch(), Seq: o.Ref.Seq, Idx: o.Ref.Idx}
			if id.After(st.last) {
				st.buf = a.frame(st.buf, o.Ref.Seq, int(o.Ref.Idx), o.Cmd.Type, enc.data(o.Cmd))
				st.last = id
			}
		}
		covered = max(covered, upto)
		if err := st.flush(); err != nil {
			return
		}
	}
	st.live(ctx, func(d *hub.Delivery) bool {
		if d.Seq > covered {
			st.addCommands(d.Msg, d.Extra, node)
		}
		return false
	})
}
