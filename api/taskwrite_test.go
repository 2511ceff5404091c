package api_test

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/herald-sse/herald/internal/testutil"
)

// TestTaskWritesOnlyByCreatorOrAdmin: a task is written only by the key
// that created it, an admin of its domain or a superadmin (issue 12). Any
// other producer of the domain gets 404 and learns nothing (not even the
// task's state through the answer); the owner, who may watch it, gets 403.
func TestTaskWritesOnlyByCreatorOrAdmin(t *testing.T) {
	s := testutil.Start(t)
	s.CreateDomain(t, "acme")
	s.CreateDomain(t, "other")
	creator := s.CreateKey(t, "service", "acme", nil, "")
	peer := s.CreateKey(t, "service", "acme", nil, "")
	admin := s.CreateKey(t, "admin", "acme", nil, "")
	owner := s.CreateKey(t, "user", "acme", nil, "")
	foreignAdmin := s.CreateKey(t, "admin", "other", nil, "")
	id, err := s.Client(creator.Token).CreateTask(context.Background(), 100, nil, owner.AccessKey)
	if err != nil {
		t.Fatal(err)
	}
	progress := func(token string, n int) (int, string) {
		resp := pjDo(t, s, "POST", "/v1/tasks/"+id+"/progress", token, `{"current_progress":`+strconv.Itoa(n)+`}`, nil)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	next := 0
	for _, c := range []struct {
		who   string
		token string
		want  int
	}{
		{"another service key of the domain", peer.Token, http.StatusNotFound},
		{"an admin of another domain", foreignAdmin.Token, http.StatusNotFound},
		{"the owner (a user key)", owner.Token, http.StatusForbidden},
		{"the creating key", creator.Token, http.StatusOK},
		{"an admin of the domain", admin.Token, http.StatusOK},
		{"a superadmin", s.Token, http.StatusOK},
	} {
		n := 1
		if c.want == http.StatusOK {
			next += 10
			n = next
		}
		got, body := progress(c.token, n)
		if got != c.want {
			t.Errorf("%s: status %d, want %d: %s", c.who, got, c.want, body)
		}
	}
	// The peer's refused writes left no trace.
	task, err := s.Admin().GetTask(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if task.Current == 1 {
		t.Errorf("a refused write landed: %+v", task)
	}
}
