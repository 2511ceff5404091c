package lifecycle

import (
	"encoding/json"
	"testing"
	"time"
)

func TestJobSummary(t *testing.T) {
	spec := JobSpec{Command: "chef-client", Nodes: []string{"n3", "n1", "n2"}, Quorum: 2, RunTimeout: 300, RequestedBy: "AKADMIN",
		User: "deploy", Dir: "/srv", Env: map[string]string{"A": "1"}, File: "base64:aGk=", CaptureOutput: true}
	avail := map[string]bool{"n1": true, "n2": true, "n3": true}
	j, _, _, err := StartJob("0123456789abcdef0123456789abcdef", "default", spec, avail, 0, time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []JobInput{jmsg("n1", MsgAckCommit), jmsg("n3", MsgAckCommit), jmsg("n2", MsgNackCommit)} {
		if j, _, _, err = j.Apply(in, time.Date(2026, 11, 23, 12, 0, 5, 0, time.UTC)); err != nil {
			t.Fatal(err)
		}
	}
	s := j.Summary(time.Date(2026, 11, 23, 12, 1, 0, 0, time.UTC))
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"0123456789abcdef0123456789abcdef","command":"chef-client","status":"running","run_timeout":300,"quorum":2,` +
		`"requested_by":"AKADMIN","created_at":"Mon, 23 Nov 2026 12:00:00 GMT","updated_at":"Mon, 23 Nov 2026 12:00:05 GMT",` +
		`"nodes":{"nacked":["n2"],"ready":["n1","n3"]},"user":"deploy","dir":"/srv","env":{"A":"1"},"capture_output":true,"file_specified":true}`
	if string(b) != want {
		t.Fatalf("summary\n got %s\nwant %s", b, want)
	}
	ev := j.SummaryEvent(time.Date(2026, 11, 23, 12, 1, 0, 0, time.UTC))
	wantEv := `{"timestamp":"2026-11-23 12:01:00.000000Z",` + want[1:]
	if ev.Name != "summary" || string(ev.Data) != wantEv {
		t.Fatalf("summary event\n got %s\nwant %s", ev.Data, wantEv)
	}
	// Minimal job: no optional keys; a list item has no nodes.
	j, _, _, _ = StartJob("j", "d", JobSpec{Command: "x", Nodes: []string{"a"}}, nil, 0, jobT0)
	s = j.Summary(jobT0)
	s.Nodes = nil
	b, _ = json.Marshal(s)
	want = `{"id":"j","command":"x","status":"quorum_failed","run_timeout":3600,"quorum":1,"requested_by":"",` +
		`"created_at":"Mon, 23 Nov 2026 12:00:00 GMT","updated_at":"Mon, 23 Nov 2026 12:00:00 GMT"}`
	if string(b) != want {
		t.Fatalf("list item\n got %s\nwant %s", b, want)
	}
}

func TestOrgEventData(t *testing.T) {
	r, _, _ := startRun(t, []string{"n1"}, 0)
	r.apply(jAbort)
	id := r.j.ID
	for _, e := range r.events {
		d, ok := OrgEventData(id, e)
		switch e.Name {
		case EventStart:
			want := `{"timestamp":"2026-11-23 12:00:00.000000Z","job":"` + id + `","command":"chef-client","run_timeout":300,"quorum":1,"node_count":1,"user":"AKADMIN","capture":false}`
			if !ok || string(d) != want {
				t.Errorf("start\n got %s\nwant %s", d, want)
			}
		case EventJobComplete:
			want := `{"timestamp":"2026-11-23 12:00:01.000000Z","job":"` + id + `","status":"aborted"}`
			if !ok || string(d) != want {
				t.Errorf("job_complete\n got %s\nwant %s", d, want)
			}
		default:
			t.Errorf("unexpected event %s", e.Name)
		}
	}
	for _, e := range []Event{
		{Name: EventQuorumVote, Data: json.RawMessage(`{"timestamp":"x","node":"n","status":"success"}`)},
		{Name: EventRehab, Data: json.RawMessage(`{"timestamp":"x","node":"n"}`)},
		{Name: EventJobComplete, Data: json.RawMessage(`{"status":"complete"}`)},
		{Name: EventJobComplete, Data: json.RawMessage(`{"timestamp":12}`)},
		{Name: EventJobComplete, Data: json.RawMessage(`{"timestamp":"x"`)},
		{Name: EventJobComplete, Data: nil},
	} {
		if d, ok := OrgEventData("j", e); ok {
			t.Errorf("%s %s: got %s", e.Name, e.Data, d)
		}
	}
	d, ok := OrgEventData(`a"b`, Event{Name: EventJobComplete, Data: json.RawMessage(`{"timestamp":"t"}`)})
	if !ok || string(d) != `{"timestamp":"t","job":"a\"b"}` {
		t.Errorf("escaping: %s", d)
	}
}
