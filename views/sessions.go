package views

import (
	"sort"

	"github.com/herald-sse/herald/lifecycle"
	"github.com/herald-sse/herald/store"
)

// SessionKey identifies a session: different owners may reuse one id.
type SessionKey struct {
	Domain, Owner, ID string
}

// SessionEntry is a session's snapshot with the position of its last record.
type SessionEntry struct {
	Session lifecycle.Session
	Seq     uint64
	Subject string
}

// sessionRec is what the views keep of a session: its subject is not kept
// but derived from its key (sessionSubject), as the api writes it.
type sessionRec struct {
	Session lifecycle.Session
	Seq     uint64
}

func sessionSubject(s *lifecycle.Session) string {
	return store.Subject("session", s.Domain, s.OwnerAccessKey, s.SessionID)
}

func (v *Views) applySession(s lifecycle.Session, seq uint64) {
	v.mu.Lock()
	v.shareSessionLocked(&s)
	v.sessions[SessionKey{s.Domain, s.OwnerAccessKey, s.SessionID}] = &sessionRec{Session: s, Seq: seq}
	v.mu.Unlock()
}

// Session returns a session's entry.
func (v *Views) Session(k SessionKey) (SessionEntry, bool) {
	v.mu.RLock()
	e, ok := v.sessions[k]
	v.mu.RUnlock()
	if !ok {
		return SessionEntry{}, false
	}
	return SessionEntry{Session: e.Session, Seq: e.Seq, Subject: sessionSubject(&e.Session)}, true
}

// Sessions returns the sessions keep accepts, ordered by domain, owner, id.
func (v *Views) Sessions(keep func(*lifecycle.Session) bool) []lifecycle.Session {
	v.mu.RLock()
	out := make([]lifecycle.Session, 0)
	for _, e := range v.sessions {
		if keep(&e.Session) {
			out = append(out, e.Session)
		}
	}
	v.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := &out[i], &out[j]
		if a.Domain != b.Domain {
			return a.Domain < b.Domain
		}
		if a.OwnerAccessKey != b.OwnerAccessKey {
			return a.OwnerAccessKey < b.OwnerAccessKey
		}
		return a.SessionID < b.SessionID
	})
	return out
}

// AnySession reports whether some session accepted by keep exists.
func (v *Views) AnySession(keep func(*lifecycle.Session) bool) bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	for _, e := range v.sessions {
		if keep(&e.Session) {
			return true
		}
	}
	return false
}
