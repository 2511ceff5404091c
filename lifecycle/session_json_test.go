package lifecycle

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func sessionJSONCases() []Session {
	r, res := "some reason", ResultSuccess
	odd := "a<b>&\"c\"\\\n\u2028é"
	t1 := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	return []Session{
		{},
		{SessionID: "s1", OwnerAccessKey: "AK1", Domain: "default", Group: "g", State: SessionStarted, CreatedAt: t1, UpdatedAt: t1.Add(time.Second)},
		{SessionID: "s1", OwnerAccessKey: "AK1", Domain: "d", Group: "g", State: SessionTerminated, Reason: &r, Result: &res, CreatedAt: t1, UpdatedAt: t1.Add(time.Microsecond)},
		{SessionID: odd, OwnerAccessKey: odd, Domain: odd, Group: odd, State: SessionState(odd), Reason: &odd, Result: &odd, CreatedAt: t1, UpdatedAt: t1},
		{SessionID: "s", CreatedAt: t1.In(time.FixedZone("x", 3600)), UpdatedAt: time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
}

func TestSessionJSONMatchesEncodingJSON(t *testing.T) {
	for i, s := range sessionJSONCases() {
		want, err := json.Marshal(s)
		got := s.AppendJSON(nil)
		if err != nil {
			want = []byte("{}")
		}
		if !bytes.Equal(got, want) {
			t.Errorf("case %d:\n got %s\nwant %s", i, got, want)
		}
		if err != nil {
			continue
		}
		var wantS Session
		if err := json.Unmarshal(want, &wantS); err != nil {
			t.Fatal(err)
		}
		gotS, err := ParseSession(got)
		if err != nil || !reflect.DeepEqual(gotS, wantS) {
			t.Errorf("case %d: ParseSession = %+v, %v; want %+v", i, gotS, err, wantS)
		}
		if _, fast := parseSessionFast(got); fast != (i != 3) {
			t.Errorf("case %d: fast path taken = %v", i, fast)
		}
	}
}

func TestSessionEventDataMatchesJSONData(t *testing.T) {
	r, res, odd := "r", ResultFailure, "a<b>&\"c\"\\\n\u2028é"
	for i, d := range []sessionEventData{
		{SessionID: "s", OwnerAccessKey: "AK", Group: "g", Timestamp: "2026-01-02T03:04:05.000006Z"},
		{SessionID: "s", OwnerAccessKey: "AK", Group: "g", Reason: &r, Result: &res, Timestamp: "t"},
		{SessionID: "s<&>", OwnerAccessKey: "AK", Group: "g", Reason: &odd, Timestamp: "t"},
	} {
		if got, want := d.appendData(), jsonData(d); !bytes.Equal(got, want) {
			t.Errorf("case %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

// FuzzSessionJSON: AppendJSON writes what json.Marshal writes, and
// ParseSession reads any text as json.Unmarshal does whenever it takes the
// fast path.
func FuzzSessionJSON(f *testing.F) {
	f.Add("s1", "AK1", "d", "g", "started", "r", true, "", false, int64(1767323045000006000), int64(1))
	f.Add("s<", "é", "\n", "g", "x", "\u2028", false, "SUCCESS", true, int64(-1), int64(0))
	f.Fuzz(func(t *testing.T, sid, owner, domain, group, state, reason string, hasReason bool, result string, hasResult bool, ns, dns int64) {
		s := Session{SessionID: sid, OwnerAccessKey: owner, Domain: domain, Group: group, State: SessionState(state),
			CreatedAt: time.Unix(0, ns).UTC(), UpdatedAt: time.Unix(0, ns+dns).UTC()}
		if hasReason {
			s.Reason = &reason
		}
		if hasResult {
			s.Result = &result
		}
		want, err := json.Marshal(s)
		if err != nil {
			t.Skip()
		}
		if got := s.AppendJSON(nil); !bytes.Equal(got, want) {
			t.Fatalf("\n got %s\nwant %s", got, want)
		}
		var wantS Session
		if err := json.Unmarshal(want, &wantS); err != nil {
			t.Fatal(err)
		}
		gotS, err := ParseSession(want)
		if err != nil || !reflect.DeepEqual(gotS, wantS) {
			t.Fatalf("ParseSession = %+v, %v; want %+v", gotS, err, wantS)
		}
		d := sessionEventData{SessionID: sid, OwnerAccessKey: owner, Group: group, Timestamp: state}
		if hasReason {
			d.Reason = &reason
		}
		if got, want := d.appendData(), jsonData(d); !bytes.Equal(got, want) {
			t.Fatalf("event data\n got %s\nwant %s", got, want)
		}
	})
}

// FuzzParseSession: on any text the fast path accepts, ParseSession agrees
// with json.Unmarshal.
func FuzzParseSession(f *testing.F) {
	f.Add([]byte(`{"sessionId":"s1","ownerAccessKey":"AK1","domain":"d","group":"g","state":"started","reason":null,"createdAt":"2026-01-02T03:04:05.000006Z","updatedAt":"2026-01-02T03:04:06Z"}`))
	f.Add([]byte(`{"sessionId":"s1","ownerAccessKey":"AK1","domain":"d","group":"g","state":"terminated","reason":"x","result":"SUCCESS","createdAt":"2026-01-02T03:04:05.1Z","updatedAt":"2026-01-02T24:04:06.Z"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, ok := parseSessionFast(b)
		if !ok {
			return
		}
		var want Session
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("fast path accepted %q; json.Unmarshal: %v", b, err)
		}
		if !reflect.DeepEqual(s, want) {
			t.Fatalf("%q: fast %+v, want %+v", b, s, want)
		}
	})
}
