package lifecycle

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	herald "github.com/herald-sse/herald"
)

var sessT0 = time.Date(2026, 11, 23, 12, 0, 0, 123456789, time.UTC)

func sessPtr(s string) *string { return &s }

// sessAt returns a session of group g1 in state st, last updated at sessT0.
func sessAt(st SessionState) Session {
	s := Session{SessionID: "s1", OwnerAccessKey: "AK1", Domain: "default"}
	if st != SessionNone {
		s.Group, s.State = "g1", st
		s.CreatedAt, s.UpdatedAt = sessT0.Add(-time.Hour), sessT0.Add(-time.Minute)
	}
	return s
}

func sessErr(t *testing.T, err error, code herald.Code, field string) *herald.Error {
	t.Helper()
	var he *herald.Error
	if !errors.As(err, &he) {
		t.Fatalf("err = %v, want *herald.Error", err)
	}
	if he.Code != code || he.Field != field {
		t.Fatalf("err = code %d field %q (%v), want code %d field %q", he.Code, he.Field, he, code, field)
	}
	return he
}

// TestSessionMatrix applies every event to every state and checks the answer
// against the lifecycle of SPEC §3, written out by hand.
func TestSessionMatrix(t *testing.T) {
	allowed := map[SessionState][]string{
		SessionNone:        {"session_enqueued", "session_preparing"},
		SessionEnqueued:    {"session_preparing", "session_terminated"},
		SessionPreparing:   {"session_pulling", "session_creating", "session_terminated"},
		SessionPulling:     {"session_creating", "session_terminated"},
		SessionCreating:    {"session_started", "session_terminated"},
		SessionStarted:     {"session_terminating", "session_terminated"},
		SessionTerminating: {"session_terminated"},
		SessionTerminated:  {"session_enqueued", "session_preparing"},
	}
	n := 0
	for from, okEvents := range allowed {
		for _, ev := range SessionEventNames() {
			n++
			t.Run(fmt.Sprintf("%s/%s", from, ev), func(t *testing.T) {
				s := sessAt(from)
				got, evs, err := s.Apply(SessionReport{Event: ev, Group: "g1"}, sessT0)
				if !slices.Contains(okEvents, ev) {
					he := sessErr(t, err, herald.EConflict, "")
					if from != SessionNone && !strings.Contains(he.Detail, fmt.Sprintf("%q", string(from))) {
						t.Errorf("detail %q does not name the current state", he.Detail)
					}
					if !strings.Contains(he.Detail, ev) || !strings.Contains(he.Detail, `"s1"`) {
						t.Errorf("detail %q does not name the event and session", he.Detail)
					}
					if evs != nil || got != s {
						t.Errorf("refused report changed the session or emitted %v", evs)
					}
					return
				}
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				want := SessionState(strings.TrimPrefix(ev, "session_"))
				if got.State != want || len(evs) != 1 || evs[0].Name != ev {
					t.Fatalf("state %q events %v, want %q and one %s", got.State, evs, want, ev)
				}
				newInstance := !from.Live()
				if newInstance != got.CreatedAt.Equal(got.UpdatedAt) {
					t.Errorf("CreatedAt %v UpdatedAt %v (new instance %v)", got.CreatedAt, got.UpdatedAt, newInstance)
				}
			})
		}
	}
	if n != 8*7 {
		t.Fatalf("matrix has %d cells", n)
	}
	if len(SessionEventNames()) != 7 {
		t.Fatalf("SessionEventNames = %v", SessionEventNames())
	}
}

func TestSessionMatrixDetail(t *testing.T) {
	_, _, err := sessAt(SessionStarted).Apply(SessionReport{Event: "session_pulling", Group: "g1"}, sessT0)
	he := sessErr(t, err, herald.EConflict, "")
	if want := `session "s1" is "started"; session_pulling is not allowed after it`; he.Detail != want {
		t.Fatalf("detail %q, want %q", he.Detail, want)
	}
}

func TestSessionEventData(t *testing.T) {
	s := sessAt(SessionNone)
	at := time.Date(2026, 11, 23, 12, 0, 0, 123456789, time.FixedZone("x", 3600))
	s, evs, err := s.Apply(SessionReport{Event: "session_enqueued", Group: "g1"}, at)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"sessionId":"s1","ownerAccessKey":"AK1","group":"g1","reason":null,"timestamp":"2026-11-23T11:00:00.123456Z"}`
	if string(evs[0].Data) != want {
		t.Fatalf("data\n got %s\nwant %s", evs[0].Data, want)
	}
	// A whole second still has six digits; a reason is a string.
	s, evs, err = s.Apply(SessionReport{Event: "session_preparing", Group: "g1", Reason: sessPtr("a <b> & c")},
		time.Date(2026, 11, 23, 12, 0, 1, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	want = `{"sessionId":"s1","ownerAccessKey":"AK1","group":"g1","reason":"a <b> & c","timestamp":"2026-11-23T12:00:01.000000Z"}`
	if string(evs[0].Data) != want {
		t.Fatalf("data\n got %s\nwant %s", evs[0].Data, want)
	}
	if s.Reason == nil || *s.Reason != "a <b> & c" || s.Result != nil {
		t.Fatalf("snapshot reason %v result %v", s.Reason, s.Result)
	}
	// terminated: result defaults to UNDEFINED and comes before timestamp.
	s, evs, err = s.Apply(SessionReport{Event: "session_terminated", Group: "g1"}, time.Date(2026, 11, 23, 12, 0, 2, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	want = `{"sessionId":"s1","ownerAccessKey":"AK1","group":"g1","reason":null,"result":"UNDEFINED","timestamp":"2026-11-23T12:00:02.000000Z"}`
	if string(evs[0].Data) != want {
		t.Fatalf("data\n got %s\nwant %s", evs[0].Data, want)
	}
	if s.Result == nil || *s.Result != ResultUndefined || s.Reason != nil {
		t.Fatalf("snapshot result %v reason %v", s.Result, s.Reason)
	}
	for _, r := range []string{ResultSuccess, ResultFailure, ResultUndefined} {
		_, evs, err := sessAt(SessionStarted).Apply(SessionReport{Event: "session_terminated", Group: "g1", Result: sessPtr(r)}, sessT0)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(evs[0].Data, &m); err != nil || m["result"] != r {
			t.Fatalf("result %q: data %s", r, evs[0].Data)
		}
	}
}

func TestSessionRefusals(t *testing.T) {
	long := strings.Repeat("x", MaxReasonLen+1)
	cases := []struct {
		name  string
		from  SessionState
		s     func(*Session)
		r     SessionReport
		code  herald.Code
		field string
	}{
		{"unknown event", SessionNone, nil, SessionReport{Event: "session_exploded", Group: "g1"}, herald.EInvalid, "event"},
		{"seed-like typo", SessionStarted, nil, SessionReport{Event: "started", Group: "g1"}, herald.EInvalid, "event"},
		{"empty event", SessionStarted, nil, SessionReport{Group: "g1"}, herald.EInvalid, "event"},
		{"result before terminated", SessionStarted, nil, SessionReport{Event: "session_terminating", Group: "g1", Result: sessPtr("SUCCESS")}, herald.EInvalid, "result"},
		{"result on first report", SessionNone, nil, SessionReport{Event: "session_enqueued", Group: "g1", Result: sessPtr("UNDEFINED")}, herald.EInvalid, "result"},
		{"bad result", SessionStarted, nil, SessionReport{Event: "session_terminated", Group: "g1", Result: sessPtr("success")}, herald.EInvalid, "result"},
		{"empty result", SessionStarted, nil, SessionReport{Event: "session_terminated", Group: "g1", Result: sessPtr("")}, herald.EInvalid, "result"},
		{"bad group", SessionNone, nil, SessionReport{Event: "session_enqueued", Group: "a b"}, herald.EInvalid, "group"},
		{"empty group", SessionNone, nil, SessionReport{Event: "session_enqueued"}, herald.EInvalid, "group"},
		{"long reason", SessionNone, nil, SessionReport{Event: "session_enqueued", Group: "g1", Reason: &long}, herald.EInvalid, "reason"},
		{"bad session id", SessionNone, func(s *Session) { s.SessionID = "../x" }, SessionReport{Event: "session_enqueued", Group: "g1"}, herald.EInvalid, "sessionId"},
		{"no owner", SessionNone, func(s *Session) { s.OwnerAccessKey = "" }, SessionReport{Event: "session_enqueued", Group: "g1"}, herald.EInvalid, "ownerAccessKey"},
		{"other group of live instance", SessionStarted, nil, SessionReport{Event: "session_terminated", Group: "g2"}, herald.EConflict, ""},
		{"repeat", SessionPulling, nil, SessionReport{Event: "session_pulling", Group: "g1"}, herald.EConflict, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := sessAt(c.from)
			if c.s != nil {
				c.s(&s)
			}
			got, evs, err := s.Apply(c.r, sessT0)
			sessErr(t, err, c.code, c.field)
			if got != s || evs != nil {
				t.Fatalf("refusal changed the session or emitted %v", evs)
			}
		})
	}
}

func TestSessionNewInstance(t *testing.T) {
	s := sessAt(SessionTerminated)
	// A new instance may be in another group; CreatedAt restarts.
	got, evs, err := s.Apply(SessionReport{Event: "session_preparing", Group: "g2", Reason: sessPtr("retry")}, sessT0)
	if err != nil {
		t.Fatal(err)
	}
	if got.Group != "g2" || got.State != SessionPreparing || !got.CreatedAt.Equal(sessT0.Truncate(time.Microsecond)) || got.Result != nil {
		t.Fatalf("got %+v", got)
	}
	if len(evs) != 1 || !strings.Contains(string(evs[0].Data), `"group":"g2"`) {
		t.Fatalf("events %v", evs)
	}
}

func TestSessionTimestampsNeverGoBack(t *testing.T) {
	s := sessAt(SessionNone)
	var last string
	for i, ev := range []string{"session_enqueued", "session_preparing", "session_pulling", "session_creating", "session_started", "session_terminating", "session_terminated"} {
		var evs []Event
		var err error
		// The clock goes backwards and stands still.
		s, evs, err = s.Apply(SessionReport{Event: ev, Group: "g1"}, sessT0.Add(-time.Duration(i)*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]string
		_ = json.Unmarshal(evs[0].Data, &m)
		if _, err := time.Parse(time.RFC3339Nano, m["timestamp"]); err != nil || len(m["timestamp"]) != len("2026-11-23T12:00:00.123456Z") {
			t.Fatalf("timestamp %q", m["timestamp"])
		}
		if m["timestamp"] <= last {
			t.Fatalf("timestamp %q after %q", m["timestamp"], last)
		}
		last = m["timestamp"]
	}
}

func TestSessionApplyDoesNotAlias(t *testing.T) {
	reason := "r"
	s, _, err := sessAt(SessionNone).Apply(SessionReport{Event: "session_enqueued", Group: "g1", Reason: &reason}, sessT0)
	if err != nil {
		t.Fatal(err)
	}
	reason = "changed"
	if *s.Reason != "r" {
		t.Fatal("snapshot aliases the report's reason")
	}
}
