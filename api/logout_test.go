package api_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/herald-sse/herald/api"
	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/internal/testutil"
	"github.com/herald-sse/herald/store"
)

// loginCookie logs in with token and returns the session cookie's value.
func loginCookie(t *testing.T, s *testutil.Server, token string) string {
	t.Helper()
	resp := pjDo(t, s, "POST", "/v1/login", token, "", nil)
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == api.CookieName && c.Value != "" {
			return c.Value
		}
	}
	t.Fatalf("login: %d, no cookie", resp.StatusCode)
	return ""
}

// TestLogoutEndsItsStreams: POST /v1/logout ends the streams opened with
// that login (SPEC §7), and only those: the same key's streams of another
// login and of its bearer token go on.
func TestLogoutEndsItsStreams(t *testing.T) {
	streamModes(t, func(t *testing.T, mode testutil.Option) {
		s := testutil.Start(t, mode)
		ctx := context.Background()
		s.CreateGroup(t, "default", "g")
		u := s.CreateKey(t, "user", "default", []string{"g"}, "")
		one, two := loginCookie(t, s, u.Token), loginCookie(t, s, u.Token)
		cookie := func(v string) map[string]string { return map[string]string{"Cookie": api.CookieName + "=" + v} }
		f1 := s.OpenFeed(t, "/events/session?sessionId=*", "", cookie(one))
		f2 := s.OpenFeed(t, "/events/session?sessionId=*", "", cookie(two))
		fb := s.OpenFeed(t, "/events/session?sessionId=*", u.Token, nil)
		resp := pjDo(t, s, "POST", "/v1/logout", "", "", cookie(one))
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("logout: %d", resp.StatusCode)
		}
		ended := make(chan error, 1)
		go func() { _, err := f1.Next(); ended <- err }()
		select {
		case err := <-ended:
			if !errors.Is(err, io.EOF) {
				t.Fatalf("the logged-out stream: %v, want its end", err)
			}
		case <-time.After(5 * time.Second):
			f1.Close()
			t.Fatal("the stream of the ended login is still open 5 s after logout")
		}
		if _, err := s.Admin().ReportSession(ctx, sessionReport("x", u.AccessKey, "g", "session_enqueued"), ""); err != nil {
			t.Fatal(err)
		}
		for name, f := range map[string]*testutil.Feed{"another login": f2, "the bearer token": fb} {
			if e, err := f.Next(); err != nil || e.Type != "session_enqueued" {
				t.Errorf("the stream of %s: %v %v", name, e, err)
			}
		}
	})
}

// TestExpiredLoginsPruned: a login expires with its cookie and the janitor
// removes its record from the store and the directory (issue 12: login
// records were never pruned).
func TestExpiredLoginsPruned(t *testing.T) {
	s := testutil.Start(t, testutil.WithConfig(func(c *api.Config) {
		c.LoginTTL = time.Second
		c.Retention = 2 * time.Second // the janitor runs every 500 ms
	}))
	cookie := loginCookie(t, s, s.Token)
	subj := store.Subject("auth.login", auth.HashToken(cookie))
	ctx := context.Background()
	if _, err := s.Store.Last(ctx, subj); err != nil {
		t.Fatalf("the login record: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := s.Store.Last(ctx, subj)
		if errors.Is(err, store.ErrNotFound) && s.API.Views().Auth.Logins() == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("10 s after its login expired: record %v, %d logins in the directory", err, s.API.Views().Auth.Logins())
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp := s.Get(t, ctx, "/v1/sessions", "", map[string]string{"Cookie": api.CookieName + "=" + cookie})
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the expired cookie: %d, want 401", resp.StatusCode)
	}
}
