package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"net/url"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/client"
	"github.com/herald-sse/herald/internal/testutil"
	"github.com/herald-sse/herald/sse"
)

type sessData struct {
	SessionID      string  `json:"sessionId"`
	OwnerAccessKey string  `json:"ownerAccessKey"`
	Group          string  `json:"group"`
	Reason         *string `json:"reason"`
	Result         *string `json:"result"`
	Timestamp      string  `json:"timestamp"`
}

// produced is one accepted report, as the producer saw it.
type produced struct {
	id                        herald.ID
	event, domain, owner, sid string
	group                     string
}

type tenantUser struct {
	key           testutil.Key
	domain, group string
}

// tenancy builds the SPEC §3 test world: domains A and B; groups alpha,
// beta in A and beta, gamma in B (beta's name exists in both); two users per
// group; an admin and a service key per domain.
type tenancy struct {
	users    []tenantUser
	admins   map[string]testutil.Key
	services map[string]testutil.Key
	groups   map[string][]string
}

func newTenancy(t *testing.T, s *testutil.Server) *tenancy {
	tn := &tenancy{admins: map[string]testutil.Key{}, services: map[string]testutil.Key{},
		groups: map[string][]string{"A": {"alpha", "beta"}, "B": {"beta", "gamma"}}}
	for _, d := range []string{"A", "B"} {
		s.CreateDomain(t, d)
		for _, g := range tn.groups[d] {
			s.CreateGroup(t, d, g)
			for i := 0; i < 2; i++ {
				tn.users = append(tn.users, tenantUser{s.CreateKey(t, "user", d, []string{g}, ""), d, g})
			}
		}
		tn.admins[d] = s.CreateKey(t, "admin", d, nil, "")
		tn.services[d] = s.CreateKey(t, "service", d, nil, "")
	}
	return tn
}

// sessionSteps returns a random valid lifecycle (event names) for one
// session instance: the SPEC §3 order, optional states skipped at random,
// possibly cut short by a termination.
func sessionSteps(rng *rand.Rand) []string {
	path := []string{"session_enqueued", "session_preparing", "session_pulling", "session_creating", "session_started", "session_terminating"}
	if rng.Intn(2) == 0 {
		path = path[1:] // may start at preparing
	}
	var out []string
	for _, e := range path {
		if (e == "session_pulling" || e == "session_terminating") && rng.Intn(2) == 0 {
			continue
		}
		out = append(out, e)
		if rng.Intn(8) == 0 {
			break // cancelled or failed early
		}
	}
	return append(out, "session_terminated")
}

// watcher is one open /events/session stream and what it receives.
type watcher struct {
	name   string
	role   string
	domain string
	owner  string
	group  string // "*" or a name
	events chan sse.Event
}

func (w *watcher) sees(p produced) bool {
	if w.group != "*" && p.group != w.group {
		return false
	}
	switch w.role {
	case "user":
		return p.owner == w.owner
	case "admin":
		return p.domain == w.domain
	}
	return true // superadmin
}

func openWatcher(t *testing.T, s *testutil.Server, w *watcher, token string, extra string) {
	f := s.OpenFeed(t, "/events/session?sessionId=*&group="+url.QueryEscape(w.group)+extra, token, nil)
	w.events = make(chan sse.Event, 4096)
	go func() {
		defer close(w.events)
		for {
			e, err := f.Next()
			if err != nil {
				return
			}
			w.events <- e
		}
	}()
}

// TestSessionFeedVisibilityProperty: for several seeds, watchers of every
// role and every group choice follow sessionId=* while producers drive 200
// sessions through random valid lifecycles; each watcher receives exactly
// the events its role and filters allow, in order, and nothing else.
func TestSessionFeedVisibilityProperty(t *testing.T) {
	seeds := []int64{1, 2, 3, 4, 5}
	if testing.Short() {
		seeds = seeds[:1]
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { sessionVisibilityRun(t, seed) })
	}
}

func sessionVisibilityRun(t *testing.T, seed int64) {
	rng := rand.New(rand.NewSource(seed))
	s := testutil.Start(t)
	tn := newTenancy(t, s)
	ctx := context.Background()

	// Watchers: every key with "*" and with each group name; the group
	// choices a role may not use must be 404.
	var ws []*watcher
	add := func(name, role, domain, owner, token string, allowed map[string]bool) {
		for _, g := range []string{"*", "alpha", "beta", "gamma"} {
			w := &watcher{name: name + "/" + g, role: role, domain: domain, owner: owner, group: g}
			if g != "*" && !allowed[g] {
				resp := s.Get(t, ctx, "/events/session?sessionId=*&group="+g, token, nil)
				if resp.StatusCode != 404 {
					t.Fatalf("%s: status %d, want 404", w.name, resp.StatusCode)
				}
				testutil.Problem(t, resp)
				continue
			}
			openWatcher(t, s, w, token, "")
			ws = append(ws, w)
		}
	}
	for i, u := range tn.users {
		add(fmt.Sprintf("user%d", i), "user", u.domain, u.key.AccessKey, u.key.Token, map[string]bool{u.group: true})
	}
	for d, k := range tn.admins {
		allowed := map[string]bool{}
		for _, g := range tn.groups[d] {
			allowed[g] = true
		}
		add("admin"+d, "admin", d, "", k.Token, allowed)
	}
	add("superadmin", "superadmin", "", "", s.Token, map[string]bool{"alpha": true, "beta": true, "gamma": true})

	// Producers: 200 sessions over a pool of 40 ids (so owners reuse ids),
	// 4 concurrent producers, each session's steps in order.
	type plan struct {
		u     tenantUser
		sid   string
		steps []string
	}
	byKey := map[string]*plan{}
	var plans []*plan
	for len(plans) < 200 {
		u := tn.users[rng.Intn(len(tn.users))]
		sid := fmt.Sprintf("s%02d", rng.Intn(40))
		steps := sessionSteps(rng)
		if p := byKey[u.key.AccessKey+sid]; p != nil {
			p.steps = append(p.steps, steps...) // a new instance after terminated
			continue
		}
		p := &plan{u: u, sid: sid, steps: steps}
		byKey[u.key.AccessKey+sid] = p
		plans = append(plans, p)
	}
	var mu sync.Mutex
	var all []produced
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(plans); i += 4 {
				p := plans[i]
				c := s.Client(tn.services[p.u.domain].Token)
				for _, ev := range p.steps {
					res, err := c.ReportSession(ctx, client.SessionReport{SessionID: p.sid,
						OwnerAccessKey: p.u.key.AccessKey, Group: p.u.group, Event: ev}, "")
					if err != nil {
						errs <- fmt.Errorf("%s %s %s: %w", p.u.key.AccessKey, p.sid, ev, err)
						return
					}
					id, ok := herald.ParseID(res.ID)
					if !ok {
						errs <- fmt.Errorf("bad id %q", res.ID)
						return
					}
					mu.Lock()
					all = append(all, produced{id, ev, p.u.domain, p.u.key.AccessKey, p.sid, p.u.group})
					mu.Unlock()
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	sort.Slice(all, func(i, j int) bool { return all[j].id.After(all[i].id) })
	t.Logf("seed %d: %d events, %d watchers", seed, len(all), len(ws))

	for _, w := range ws {
		var want []produced
		for _, p := range all {
			if w.sees(p) {
				want = append(want, p)
			}
		}
		for i, p := range want {
			var e sse.Event
			select {
			case e = <-w.events:
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: got %d events, want %d", w.name, i, len(want))
			}
			var d sessData
			_ = json.Unmarshal([]byte(e.Data), &d)
			if e.ID != p.id.String() || e.Type != p.event || d.OwnerAccessKey != p.owner || d.SessionID != p.sid || d.Group != p.group {
				t.Fatalf("%s: event %d is %s %s %s, want %s %s %+v", w.name, i, e.ID, e.Type, e.Data, p.id, p.event, p)
			}
		}
		select {
		case e, ok := <-w.events:
			if ok {
				t.Fatalf("%s: unexpected extra event %s %s %s", w.name, e.ID, e.Type, e.Data)
			}
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestSessionSharedID: two owners reuse one sessionId; a superadmin with
// ownerAccessKey sees only that owner's, a user only its own.
func TestSessionSharedID(t *testing.T) {
	s := testutil.Start(t)
	ctx := context.Background()
	s.CreateGroup(t, "default", "g")
	u1 := s.CreateKey(t, "user", "default", []string{"g"}, "")
	u2 := s.CreateKey(t, "user", "default", []string{"g"}, "")
	super := s.OpenFeed(t, "/events/session?sessionId=same&ownerAccessKey="+u1.AccessKey, s.Token, nil)
	user2 := s.OpenFeed(t, "/events/session?sessionId=same", u2.Token, nil)
	both := s.OpenFeed(t, "/events/session?name=same", s.Token, nil)
	c := s.Admin()
	for _, owner := range []string{u2.AccessKey, u1.AccessKey} {
		for _, ev := range []string{"session_enqueued", "session_preparing"} {
			if _, err := c.ReportSession(ctx, client.SessionReport{SessionID: "same", OwnerAccessKey: owner, Group: "g", Event: ev}, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	expect := func(name string, f *testutil.Feed, owner string, n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			e, err := f.Next()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			var d sessData
			_ = json.Unmarshal([]byte(e.Data), &d)
			if owner != "" && d.OwnerAccessKey != owner {
				t.Fatalf("%s: got %s's event", name, d.OwnerAccessKey)
			}
		}
	}
	expect("superadmin with ownerAccessKey", super, u1.AccessKey, 2)
	expect("user", user2, u2.AccessKey, 2)
	expect("superadmin without owner", both, "", 4)
	// A user naming another owner: 403; naming itself: allowed.
	resp := s.Get(t, ctx, "/events/session?sessionId=same&ownerAccessKey="+u1.AccessKey, u2.Token, nil)
	if resp.StatusCode != 403 {
		t.Fatalf("user naming another owner: %d", resp.StatusCode)
	}
	testutil.Problem(t, resp)
	own := s.OpenFeed(t, "/events/session?sessionId=same&ownerAccessKey="+u2.AccessKey, u2.Token, nil)
	own.Close()
	// The read API keeps them apart too.
	var got client.Session
	if err := s.Client(u1.Token).Do(ctx, "GET", "/v1/sessions/"+u1.AccessKey+"/same", nil, &got, ""); err != nil || got.OwnerAccessKey != u1.AccessKey || got.State != "preparing" {
		t.Fatalf("get own session: %v %+v", err, got)
	}
	if err := s.Client(u1.Token).Do(ctx, "GET", "/v1/sessions/"+u2.AccessKey+"/same", nil, &got, ""); err == nil || err.(*client.Error).Status != 404 {
		t.Fatalf("get another user's session: %v", err)
	}
	list, err := s.Client(u2.Token).Sessions(ctx, "", "")
	if err != nil || len(list) != 1 || list[0].OwnerAccessKey != u2.AccessKey {
		t.Fatalf("user's list: %v %+v", err, list)
	}
	list, err = s.Admin().Sessions(ctx, "g", "preparing")
	if err != nil || len(list) != 2 {
		t.Fatalf("superadmin's list: %v %+v", err, list)
	}
}

// TestSessionResumeAcrossRestart: an admin cut after k events resumes
// after a restart with Last-Event-ID and receives exactly the missed
// events it may see, then live ones.
func TestSessionResumeAcrossRestart(t *testing.T) {
	s := testutil.Start(t)
	ctx := context.Background()
	tn := newTenancy(t, s)
	uA, uB := tn.users[0], tn.users[len(tn.users)-1] // one in A, one in B
	report := func(u tenantUser, sid, ev string) herald.ID {
		t.Helper()
		res, err := s.Client(tn.services[u.domain].Token).ReportSession(ctx, client.SessionReport{SessionID: sid,
			OwnerAccessKey: u.key.AccessKey, Group: u.group, Event: ev}, "")
		if err != nil {
			t.Fatal(err)
		}
		id, _ := herald.ParseID(res.ID)
		return id
	}
	f := s.OpenFeed(t, "/events/session?sessionId=*", tn.admins["A"].Token, nil)
	report(uA, "x", "session_enqueued")
	report(uB, "y", "session_enqueued")
	report(uA, "x", "session_preparing")
	var last string
	for i := 0; i < 2; i++ {
		e, err := f.Next()
		if err != nil {
			t.Fatal(err)
		}
		last = e.ID
	}
	f.Close()
	missed := []herald.ID{report(uA, "x", "session_creating")}
	report(uB, "y", "session_preparing") // another domain: never visible
	s.Restart(t)
	missed = append(missed, report(uA, "x", "session_started"))
	report(uB, "y", "session_creating")
	r := s.OpenFeed(t, "/events/session?sessionId=*", tn.admins["A"].Token, map[string]string{"Last-Event-ID": last})
	missed = append(missed, report(uA, "z", "session_enqueued")) // live, after the resume
	for _, id := range missed {
		e, err := r.Next()
		if err != nil || e.ID != id.String() {
			t.Fatalf("resume: got %q %v, want %s", e.ID, err, id)
		}
	}
	// No id or an unrecognized one: live only.
	l := s.OpenFeed(t, "/events/session?sessionId=*", tn.admins["A"].Token, map[string]string{"Last-Event-ID": "bogus-1"})
	live := report(uA, "z", "session_preparing")
	if e, err := l.Next(); err != nil || e.ID != live.String() {
		t.Fatalf("unrecognized id: got %q %v, want live %s", e.ID, err, live)
	}
}
