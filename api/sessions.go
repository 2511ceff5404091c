package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/lifecycle"
	"github.com/herald-sse/herald/store"
	"github.com/herald-sse/herald/views"
)

type sessionReportReq struct {
	SessionID      *string `json:"sessionId"`
	OwnerAccessKey *string `json:"ownerAccessKey"`
	Group          *string `json:"group"`
	Event          *string `json:"event"`
	Reason         *string `json:"reason"`
	Result         *string `json:"result"`
}

// reportSession: POST /v1/sessions/events → 201 {"id","state"}.
func (a *API) reportSession(w http.ResponseWriter, r *http.Request) {
	k := caller(r)
	var req sessionReportReq
	body, err := readBody(r)
	if err == nil {
		err = decodeFlatRequest(body, &req)
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if !canProduce(k) {
		a.writeError(w, r, forbiddenf("a %s key cannot report sessions; use a service or admin key", k.Role))
		return
	}
	if req.Event == nil {
		a.writeError(w, r, herald.FieldErrorf("event", "is required"))
		return
	}
	sid, err := slugField("sessionId", req.SessionID)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if req.OwnerAccessKey == nil {
		a.writeError(w, r, herald.FieldErrorf("ownerAccessKey", "is required"))
		return
	}
	owner, ok := a.knownKey(r.Context(), *req.OwnerAccessKey)
	if !ok || !k.CanProduce(owner.Domain) {
		a.writeError(w, r, herald.FieldErrorf("ownerAccessKey", "no key %q in your domain", truncate(*req.OwnerAccessKey, 80)))
		return
	}
	group, err := slugField("group", req.Group)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if !a.knownGroup(r.Context(), owner.Domain, group) {
		a.writeError(w, r, herald.FieldErrorf("group", "domain %q has no group %q", owner.Domain, group))
		return
	}
	if len(owner.Groups) > 0 && !owner.InGroup(group) {
		a.writeError(w, r, herald.FieldErrorf("group", "key %s is not a member of group %q", owner.AccessKey, group))
		return
	}
	rep := lifecycle.SessionReport{Event: *req.Event, Group: group, Reason: req.Reason, Result: req.Result}
	key := views.SessionKey{Domain: owner.Domain, Owner: owner.AccessKey, ID: sid}
	ans, err := a.commit(r.Context(), r, k, func() (change, any, error) {
		e, ok := a.views.Session(key)
		if !ok {
			e.Session = lifecycle.Session{SessionID: sid, OwnerAccessKey: owner.AccessKey, Domain: owner.Domain}
			e.Subject = store.Subject("session", owner.Domain, owner.AccessKey, sid)
		}
		s, evs, err := e.Session.Apply(rep, time.Now().UTC())
		if err != nil {
			return change{}, nil, err
		}
		snap := s.AppendJSON(make([]byte, 0, 320))
		ch := change{status: http.StatusCreated, withID: true, app: store.Append{Subject: e.Subject, ExpectSeq: e.Seq,
			Record: store.Record{Kind: "session", Domain: s.Domain, Owner: s.OwnerAccessKey, Group: s.Group,
				Entity: sid, Snapshot: snap, Events: evs}}}
		return ch, sessionAnswer{State: s.State}, nil
	})
	a.reply(w, r, ans, err)
}

// sessionAnswer is the answer to a report; its "id" (the event's id) is
// added after the append, when it is known.
type sessionAnswer struct {
	State lifecycle.SessionState `json:"state"`
}

// appendJSON encodes the answer as json.Marshal does.
func (s sessionAnswer) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"state":`...)
	dst = appendJSONString(dst, string(s.State))
	return append(dst, '}')
}

// sessionFilter is what one session watcher may see and asked for. A
// stream keeps it (its hub Match) for its whole life: it holds only what
// match needs, and no string that shares memory with the request (see
// sessionWatch).
type sessionFilter struct {
	domain string // "" = any
	owner  string // "" = any
	id     string // "" = any
	group  string // "" = any
}

// topic is the hub topic the filter's records are routed on.
func (f *sessionFilter) topic() string {
	switch {
	case f.domain != "" && f.owner != "":
		return "session/o/" + f.domain + "/" + f.owner
	case f.domain != "":
		return "session/d/" + f.domain
	}
	return "session/*"
}

// subject is the store filter of the records a replay reads.
func (f *sessionFilter) subject() string {
	switch {
	case f.domain != "" && f.owner != "" && f.id != "":
		return store.Subject("session", f.domain, f.owner, f.id)
	case f.domain != "" && f.owner != "":
		return store.Subject("session", f.domain, f.owner) + ".*"
	case f.domain != "":
		return store.Subject("session", f.domain) + ".>"
	}
	return "herald.session.>"
}

func (f *sessionFilter) match(m *store.Msg) bool {
	r := &m.Record
	return r.Kind == "session" &&
		(f.domain == "" || r.Domain == f.domain) &&
		(f.owner == "" || r.Owner == f.owner) &&
		(f.id == "" || r.Entity == f.id) &&
		(f.group == "" || r.Group == f.group)
}

func (f *sessionFilter) matchSession(s *lifecycle.Session) bool {
	return (f.domain == "" || s.Domain == f.domain) && (f.owner == "" || s.OwnerAccessKey == f.owner) &&
		(f.id == "" || s.SessionID == f.id) && (f.group == "" || s.Group == f.group)
}

// sessionWatch turns a caller and the query of SPEC §3 into a filter, or
// the 4xx the SPEC gives.
func (a *API) sessionWatch(k *auth.Key, q map[string][]string) (*sessionFilter, error) {
	get := func(names ...string) (string, bool) {
		for _, n := range names {
			if v, ok := q[n]; ok && len(v) > 0 {
				return v[0], true
			}
		}
		return "", false
	}
	f := &sessionFilter{}
	sid, _ := get("sessionId", "name", "sessionName")
	if sid == "" {
		sid = "*"
	}
	if sid != "*" {
		if !herald.ValidSlug(sid) {
			return nil, herald.FieldErrorf("sessionId", "must be \"*\" or a slug ([A-Za-z0-9][A-Za-z0-9._-]{0,63}), got %q", truncate(sid, 80))
		}
		f.id = strings.Clone(sid) // see queryOwner
	}
	group, _ := get("group", "groupName")
	if group == "" {
		group = "*"
	}
	if group != "*" && !herald.ValidSlug(group) {
		return nil, herald.FieldErrorf("group", "must be \"*\" or a group name, got %q", truncate(group, 80))
	}
	owner, hasOwner := get("ownerAccessKey")
	domain, hasDomain := get("domain")
	if hasDomain && !herald.ValidSlug(domain) {
		return nil, herald.FieldErrorf("domain", "must be a domain name, got %q", truncate(domain, 80))
	}
	switch k.Role {
	case herald.RoleUser:
		if hasOwner && owner != k.AccessKey {
			return nil, forbiddenf("a user key watches only its own sessions; ownerAccessKey %q is not yours", truncate(owner, 80))
		}
		f.domain, f.owner = k.Domain, k.AccessKey
		if group != "*" && !k.InGroup(group) {
			return nil, notFoundf("no group %q among your key's groups", group)
		}
	case herald.RoleAdmin, herald.RoleService:
		if hasDomain && domain != k.Domain {
			return nil, notFoundf("no domain %q", domain)
		}
		f.domain = k.Domain
		if hasOwner {
			f.owner = a.queryOwner(owner)
		}
		if group != "*" {
			if _, ok := a.views.Auth.Group(k.Domain, group); !ok {
				return nil, notFoundf("domain %q has no group %q", k.Domain, group)
			}
		}
	case herald.RoleSuperadmin:
		if hasDomain {
			if _, ok := a.views.Auth.Domain(domain); !ok {
				return nil, notFoundf("no domain %q", domain)
			}
			f.domain = strings.Clone(domain) // see queryOwner
		}
		if hasOwner {
			f.owner = a.queryOwner(owner)
			if ok, found := a.views.Auth.Key(owner); found && f.domain == "" {
				f.domain = ok.Domain
			}
		}
		if group != "*" {
			if f.domain != "" {
				if _, ok := a.views.Auth.Group(f.domain, group); !ok {
					return nil, notFoundf("domain %q has no group %q", f.domain, group)
				}
			} else if !a.views.Auth.GroupInAnyDomain(group) {
				return nil, notFoundf("no domain has a group %q", group)
			}
		}
	default:
		return nil, forbiddenf("a %s key cannot watch sessions", k.Role)
	}
	if group != "*" {
		f.group = strings.Clone(group) // see queryOwner
	}
	return f, nil
}

// queryOwner is an ownerAccessKey of a query as a filter keeps it: the
// directory's copy of the key, or a copy of its own. A query's values are
// substrings of the request line; a stream that kept one would keep the
// whole line for its life.
func (a *API) queryOwner(owner string) string {
	if k, found := a.views.Auth.Key(owner); found {
		return k.AccessKey
	}
	return strings.Clone(owner)
}

// sessionTopics are the topics a session record is routed on.
func sessionTopics(r *store.Record) []string {
	return []string{"session/*", "session/d/" + r.Domain, "session/o/" + r.Domain + "/" + r.Owner}
}

// sessionFeed: GET /events/session (SPEC §3). The stream never ends by itself.
func (a *API) sessionFeed(w http.ResponseWriter, r *http.Request) {
	k := caller(r)
	f, err := a.sessionWatch(k, r.URL.Query())
	if err == nil {
		err = acceptEventStream(r)
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if a.cfg.StrictSessionLookup && f.id != "" && !a.views.AnySession(f.matchSession) {
		a.catchUp(r.Context()) // a session reported through another node
		if !a.views.AnySession(f.matchSession) {
			a.writeError(w, r, notFoundf("no session %q visible to you", f.id))
			return
		}
	}
	if a.closing.Load() {
		a.writeError(w, r, herald.Errorf(herald.EUnavailable, "the server is shutting down; reconnect"))
		return
	}
	after, recognized := a.resumePoint(r)
	sub := &hub.Sub{Topic: f.topic(), Key: k.AccessKey, Login: loginOf(r), Match: func(d *hub.Delivery) bool { return f.match(d.Msg) }}
	start := a.hub.Subscribe(sub)
	st := a.openStream(w, r, sub)
	defer st.close()
	ctx := r.Context()
	if recognized {
		_, err := st.replayWith(ctx, f.subject(), after, start, func(m *store.Msg, frames [][]byte) bool {
			if f.match(m) {
				st.addRecord(m, frames)
			}
			return false
		})
		if err != nil {
			a.streamFailed(r, err)
			return
		}
	}
	st.live(ctx, func(d *hub.Delivery) bool {
		st.addRecord(d.Msg, d.Frames)
		return false
	})
}

// listSessions: GET /v1/sessions?group=&state= — current state of the
// visible sessions, for a UI's first paint.
func (a *API) listSessions(w http.ResponseWriter, r *http.Request) {
	k := caller(r)
	q := r.URL.Query()
	f, err := a.sessionWatch(k, q)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	state := q.Get("state")
	if state != "" && !validSessionState(state) {
		a.writeError(w, r, herald.FieldErrorf("state", "must be one of enqueued, preparing, pulling, creating, started, terminating, terminated; got %q", truncate(state, 40)))
		return
	}
	limit, err := listLimit(q)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	after := q.Get("after")
	list := a.views.Sessions(func(s *lifecycle.Session) bool {
		return f.matchSession(s) && (state == "" || string(s.State) == state) && (after == "" || sessionCursor(*s) > after)
	})
	writeList(a, w, r, list, limit, false, "after", sessionCursor)
}

// sessionCursor is a session's place in GET /v1/sessions (sorted by
// domain, owner, id; none of them contains "/"): the value of ?after=.
func sessionCursor(s lifecycle.Session) string {
	return s.Domain + "/" + s.OwnerAccessKey + "/" + s.SessionID
}

func validSessionState(s string) bool {
	switch lifecycle.SessionState(s) {
	case lifecycle.SessionEnqueued, lifecycle.SessionPreparing, lifecycle.SessionPulling, lifecycle.SessionCreating,
		lifecycle.SessionStarted, lifecycle.SessionTerminating, lifecycle.SessionTerminated:
		return true
	}
	return false
}

// getSession: GET /v1/sessions/{ownerAccessKey}/{sessionId}.
func (a *API) getSession(w http.ResponseWriter, r *http.Request) {
	k := caller(r)
	owner, sid := r.PathValue("ownerAccessKey"), r.PathValue("sessionId")
	if !herald.ValidSlug(sid) {
		a.writeError(w, r, herald.FieldErrorf("sessionId", "must be a slug, got %q", truncate(sid, 80)))
		return
	}
	e, err := orCatchUp(r.Context(), a, func() (views.SessionEntry, error) {
		var e views.SessionEntry
		ok := false
		if ok2, found := a.views.Auth.Key(owner); found {
			e, ok = a.views.Session(views.SessionKey{Domain: ok2.Domain, Owner: owner, ID: sid})
		}
		if !ok || !k.SeesSession(e.Session.Domain, owner) {
			return e, notFoundf("no session %q of %q visible to you", sid, truncate(owner, 80))
		}
		return e, nil
	})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, e.Session)
}
