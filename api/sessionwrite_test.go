package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/internal/testutil"
)

type swEnv struct {
	s     *testutil.Server
	svc   testutil.Key
	owner testutil.Key
	hc    *http.Client
}

func swSetup(t *testing.T) *swEnv {
	t.Helper()
	s := testutil.Start(t)
	s.CreateDomain(t, "d")
	s.CreateGroup(t, "d", "g")
	e := &swEnv{s: s, svc: s.CreateKey(t, "service", "d", nil, ""), owner: s.CreateKey(t, "user", "d", []string{"g"}, ""),
		hc: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{}}}
	// Racing requests dial connections that may stay unused; closing them
	// spares the server's Shutdown its 5s wait on never-used connections.
	t.Cleanup(e.hc.CloseIdleConnections)
	return e
}

// report posts a session report and returns the status and body.
func (e *swEnv) report(t *testing.T, sid, event, idemKey, extra string) (int, []byte) {
	t.Helper()
	body := fmt.Sprintf(`{"sessionId":%q,"ownerAccessKey":%q,"group":"g","event":%q%s}`, sid, e.owner.AccessKey, event, extra)
	req, _ := http.NewRequest("POST", e.s.URL+"/v1/sessions/events", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e.svc.Token)
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

type reportAnswer struct {
	ID    string `json:"id"`
	State string `json:"state"`
}

func decodeAnswer(t *testing.T, b []byte) reportAnswer {
	t.Helper()
	var a reportAnswer
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil || a.ID == "" || a.State == "" {
		t.Fatalf("answer %s: %v", b, err)
	}
	return a
}

// TestSessionReportAnswers: a report answers 201 {"id","state"} (in that
// order), the id is the id of the event the feed delivers, and the record
// keeps the answer only when an Idempotency-Key may ask for it again.
func TestSessionReportAnswers(t *testing.T) {
	e := swSetup(t)
	feed := e.s.OpenFeed(t, "/events/session?sessionId=s1&ownerAccessKey="+e.owner.AccessKey, e.s.Token, nil)
	st, b := e.report(t, "s1", "session_enqueued", "", `,"reason":"a && <b>"`)
	if st != 201 {
		t.Fatalf("report: %d %s", st, b)
	}
	a := decodeAnswer(t, b)
	if want := `{"id":"` + a.ID + `","state":"enqueued"}` + "\n"; string(b) != want {
		t.Fatalf("answer %q, want %q", b, want)
	}
	ev, err := feed.Next()
	if err != nil || ev.ID != a.ID || ev.Type != "session_enqueued" {
		t.Fatalf("feed event %+v %v, want id %s", ev, err, a.ID)
	}
	var data map[string]any
	if err := json.Unmarshal([]byte(ev.Data), &data); err != nil || data["reason"] != "a && <b>" || data["sessionId"] != "s1" {
		t.Fatalf("event data %s: %v", ev.Data, err)
	}
	id, ok := herald.ParseID(a.ID)
	if !ok {
		t.Fatalf("answer id %q", a.ID)
	}
	m, err := e.s.Store.Get(context.Background(), id.Seq)
	if err != nil || len(m.Record.Answer) != 0 {
		t.Fatalf("record %d without Idempotency-Key: answer %s, %v", id.Seq, m.Record.Answer, err)
	}
	st, b = e.report(t, "s1", "session_preparing", "k-prep", "")
	a = decodeAnswer(t, b)
	id, _ = herald.ParseID(a.ID)
	if m, err = e.s.Store.Get(context.Background(), id.Seq); err != nil ||
		string(m.Record.Answer) != `{"status":201,"body":{"state":"preparing"},"withId":true}` {
		t.Fatalf("record %d with Idempotency-Key: answer %s, %v", id.Seq, m.Record.Answer, err)
	}
}

// TestSessionReportIdempotency: a retry with the same Idempotency-Key, even
// after later reports and concurrently with itself, answers the first answer
// byte for byte and appends nothing.
func TestSessionReportIdempotency(t *testing.T) {
	e := swSetup(t)
	applied := func() uint64 { return e.s.API.Views().Applied() }
	st, first := e.report(t, "s2", "session_enqueued", "k1", "")
	if st != 201 {
		t.Fatalf("first: %d %s", st, first)
	}
	at := applied()
	st, again := e.report(t, "s2", "session_enqueued", "k1", "")
	if st != 201 || !bytes.Equal(again, first) || applied() != at {
		t.Fatalf("retry: %d %s (first %s), store %d → %d", st, again, first, at, applied())
	}
	if st, b := e.report(t, "s2", "session_preparing", "k2", ""); st != 201 {
		t.Fatalf("preparing: %d %s", st, b)
	}
	at = applied()
	if st, again = e.report(t, "s2", "session_enqueued", "k1", ""); st != 201 || !bytes.Equal(again, first) || applied() != at {
		t.Fatalf("retry after a later report: %d %s (first %s), store %d → %d", st, again, first, at, applied())
	}
	if st, b := e.report(t, "s2", "session_enqueued", "", ""); st != 409 {
		t.Fatalf("the same report without the key: %d %s, want 409", st, b)
	}

	// Racing retries of one new write: one record, one answer.
	const racers = 8
	answers := make([][]byte, racers)
	codes := make([]int, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() { codes[i], answers[i] = e.report(t, "s2", "session_creating", "k3", "") })
	}
	wg.Wait()
	for i := range racers {
		if codes[i] != 201 || !bytes.Equal(answers[i], answers[0]) {
			t.Fatalf("racer %d: %d %s, racer 0: %d %s", i, codes[i], answers[i], codes[0], answers[0])
		}
	}
	if got := applied(); got != at+1 {
		t.Fatalf("%d racing retries appended %d records, want 1", racers, got-at)
	}
}

// TestSessionReportRace: writers racing on one session each see the state
// their report was decided on: of the racers that report the same next
// step, exactly one wins and the others get 409; every step wins once.
func TestSessionReportRace(t *testing.T) {
	e := swSetup(t)
	steps := []string{"session_enqueued", "session_preparing", "session_creating", "session_started", "session_terminating", "session_terminated"}
	const racers = 6
	for _, step := range steps {
		codes := make([]int, racers)
		bodies := make([][]byte, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() { codes[i], bodies[i] = e.report(t, "s3", step, "", "") })
		}
		wg.Wait()
		won := 0
		for i, c := range codes {
			switch c {
			case 201:
				won++
			case 409:
			default:
				t.Fatalf("%s racer %d: %d %s", step, i, c, bodies[i])
			}
		}
		if won != 1 {
			t.Fatalf("%s: %d racers won, want exactly 1 (codes %v)", step, won, codes)
		}
	}
	resp := e.s.Get(t, context.Background(), "/v1/sessions/"+e.owner.AccessKey+"/s3", e.s.Token, nil)
	defer resp.Body.Close()
	var s struct{ State string }
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil || s.State != "terminated" {
		t.Fatalf("final state %q, %v", s.State, err)
	}
}
