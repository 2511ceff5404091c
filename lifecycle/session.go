package lifecycle

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"

	herald "github.com/herald-sse/herald"
)

// SessionState is where a compute session is in its lifecycle (SPEC §3). The
// zero value means the session was never reported.
type SessionState string

// The session states, in lifecycle order.
const (
	SessionNone        SessionState = ""
	SessionEnqueued    SessionState = "enqueued"
	SessionPreparing   SessionState = "preparing"
	SessionPulling     SessionState = "pulling"
	SessionCreating    SessionState = "creating"
	SessionStarted     SessionState = "started"
	SessionTerminating SessionState = "terminating"
	SessionTerminated  SessionState = "terminated"
)

// Live reports whether a session in state st is a running instance: reported
// at least once and not terminated.
func (st SessionState) Live() bool { return st != SessionNone && st != SessionTerminated }

// Session results, reported on session_terminated only.
const (
	ResultUndefined = "UNDEFINED"
	ResultSuccess   = "SUCCESS"
	ResultFailure   = "FAILURE"
)

// MaxReasonLen bounds a session report's reason, in bytes.
const MaxReasonLen = 1024

// sessionEventPrefix turns a state into its event name.
const sessionEventPrefix = "session_"

// Session is the current state of one session id of one owner: the snapshot
// stored with every transition and served by GET /v1/sessions.
type Session struct {
	SessionID      string       `json:"sessionId"`
	OwnerAccessKey string       `json:"ownerAccessKey"`
	Domain         string       `json:"domain"`
	Group          string       `json:"group"`
	State          SessionState `json:"state"`
	Reason         *string      `json:"reason"`
	Result         *string      `json:"result,omitempty"`
	CreatedAt      time.Time    `json:"createdAt"` // of the current instance
	UpdatedAt      time.Time    `json:"updatedAt"`
}

// SessionReport is one producer report (POST /v1/sessions/events) about the
// session it is applied to.
type SessionReport struct {
	Event  string  // e.g. "session_started"
	Group  string  // the session's group
	Reason *string // optional
	Result *string // only on session_terminated: UNDEFINED|SUCCESS|FAILURE
}

// SessionEventNames returns the session event names in lifecycle order.
func SessionEventNames() []string {
	return []string{
		"session_enqueued", "session_preparing", "session_pulling", "session_creating",
		"session_started", "session_terminating", "session_terminated",
	}
}

// sessionStateOf maps an event name to the state it reports.
func sessionStateOf(event string) (SessionState, bool) {
	if !strings.HasPrefix(event, sessionEventPrefix) {
		return "", false
	}
	st := SessionState(event[len(sessionEventPrefix):])
	switch st {
	case SessionEnqueued, SessionPreparing, SessionPulling, SessionCreating,
		SessionStarted, SessionTerminating, SessionTerminated:
		return st, true
	}
	return "", false
}

// sessionAllowed is the lifecycle of SPEC §3:
//
//	enqueued → preparing → [pulling] → creating → started → [terminating] → terminated
//
// Only the bracketed states may be skipped; terminated is reachable from every
// live state; a new instance (from no state or terminated) starts with
// enqueued or preparing. A state never follows itself.
func sessionAllowed(from, to SessionState) bool {
	switch from {
	case SessionNone, SessionTerminated:
		return to == SessionEnqueued || to == SessionPreparing
	}
	if to == SessionTerminated {
		return true
	}
	switch from {
	case SessionEnqueued:
		return to == SessionPreparing
	case SessionPreparing:
		return to == SessionPulling || to == SessionCreating
	case SessionPulling:
		return to == SessionCreating
	case SessionCreating:
		return to == SessionStarted
	case SessionStarted:
		return to == SessionTerminating
	}
	return false // terminating → only terminated; unknown states → nothing
}

// sessionEventData is the data of every session event, fields in wire order.
type sessionEventData struct {
	SessionID      string  `json:"sessionId"`
	OwnerAccessKey string  `json:"ownerAccessKey"`
	Group          string  `json:"group"`
	Reason         *string `json:"reason"`
	Result         *string `json:"result,omitempty"`
	Timestamp      string  `json:"timestamp"`
}

// sessionTimeLayout is RFC 3339 in UTC with exactly six fractional digits.
const sessionTimeLayout = "2006-01-02T15:04:05.000000Z"

// Apply applies report r to the session s at time now and returns the new
// snapshot and the one event it emits. s is the current snapshot; for a
// session never seen it is the zero Session with SessionID, OwnerAccessKey and
// Domain set. A refused report returns s unchanged and an *herald.Error:
// EInvalid naming the field for malformed input, EConflict for a report that
// breaks the lifecycle or names another group than the live instance's.
//
// Event timestamps never go backwards within a session: a now earlier than
// or equal to the last update is moved to one microsecond after it.
func (s Session) Apply(r SessionReport, now time.Time) (Session, []Event, error) {
	to, ok := sessionStateOf(r.Event)
	if !ok {
		return s, nil, herald.FieldErrorf("event", "unknown session event %q; want one of %s",
			r.Event, strings.Join(SessionEventNames(), ", "))
	}
	if !herald.ValidSlug(s.SessionID) {
		return s, nil, herald.FieldErrorf("sessionId", "session id %q is not a slug [A-Za-z0-9][A-Za-z0-9._-]{0,63}", s.SessionID)
	}
	if s.OwnerAccessKey == "" {
		return s, nil, herald.FieldErrorf("ownerAccessKey", "owner access key is empty")
	}
	if !herald.ValidSlug(r.Group) {
		return s, nil, herald.FieldErrorf("group", "group %q is not a slug [A-Za-z0-9][A-Za-z0-9._-]{0,63}", r.Group)
	}
	if r.Reason != nil && len(*r.Reason) > MaxReasonLen {
		return s, nil, herald.FieldErrorf("reason", "reason is %d bytes; at most %d", len(*r.Reason), MaxReasonLen)
	}
	result := r.Result
	if to != SessionTerminated {
		if result != nil {
			return s, nil, herald.FieldErrorf("result", "result is only allowed on session_terminated, not on %s", r.Event)
		}
	} else if result == nil {
		u := ResultUndefined
		result = &u
	} else {
		switch *result {
		case ResultUndefined, ResultSuccess, ResultFailure:
		default:
			return s, nil, herald.FieldErrorf("result", "result %q is not one of UNDEFINED, SUCCESS, FAILURE", *result)
		}
	}
	if s.State.Live() && r.Group != s.Group {
		return s, nil, herald.Errorf(herald.EConflict, "session %q belongs to group %q, not %q", s.SessionID, s.Group, r.Group)
	}
	if !sessionAllowed(s.State, to) {
		if s.State == SessionNone {
			return s, nil, herald.Errorf(herald.EConflict,
				"session %q has never been reported; its first report must be session_enqueued or session_preparing, not %s",
				s.SessionID, r.Event)
		}
		hint := ""
		if s.State == SessionTerminated {
			hint = " (a new instance starts with session_enqueued or session_preparing)"
		}
		return s, nil, herald.Errorf(herald.EConflict, "session %q is %q; %s is not allowed after it%s", s.SessionID, s.State, r.Event, hint)
	}

	ts := now.UTC().Truncate(time.Microsecond)
	if !s.UpdatedAt.IsZero() && !ts.After(s.UpdatedAt) {
		ts = s.UpdatedAt.UTC().Add(time.Microsecond)
	}
	n := s
	if !s.State.Live() { // a new instance
		n.CreatedAt = ts
	}
	n.Group = r.Group
	n.State = to
	n.Reason = cloneString(r.Reason)
	n.Result = cloneString(result)
	n.UpdatedAt = ts
	ed := sessionEventData{
		SessionID:      n.SessionID,
		OwnerAccessKey: n.OwnerAccessKey,
		Group:          n.Group,
		Reason:         n.Reason,
		Result:         n.Result,
		Timestamp:      ts.Format(sessionTimeLayout),
	}
	data := ed.appendData()
	return n, []Event{{Name: r.Event, Data: data}}, nil
}

func cloneString(p *string) *string {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// jsonData encodes v as one line of JSON without HTML escaping, so a command
// like "a && b" reads the same on the wire as it was given. v is always a type
// of this package, which encodes without error.
func jsonData(v any) json.RawMessage {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return json.RawMessage("{}")
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}
