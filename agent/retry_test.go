package agent

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/herald-sse/herald/client"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want verdict
	}{
		{errors.New("dial tcp: connection refused"), transient},
		{&client.Error{Status: 500}, transient}, {&client.Error{Status: 503}, transient},
		{&client.Error{Status: 429}, transient}, {&client.Error{Status: 408}, transient},
		{&client.Error{Status: 401}, refusal}, {&client.Error{Status: 403}, refusal}, {&client.Error{Status: 404}, refusal},
		{&client.Error{Status: 400}, permanent}, {&client.Error{Status: 406}, permanent}, {&client.Error{Status: 409}, permanent},
	} {
		if got := classify(tc.err); got != tc.want {
			t.Errorf("classify(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

// TestRefusals: refusals end the agent only after lasting giveUp with no
// success in between.
func TestRefusals(t *testing.T) {
	r := refusals{giveUp: 200 * time.Millisecond}
	e401 := &client.Error{Status: 401, Title: "Unauthorized"}
	if err := r.refused(e401); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	r.ok() // a success starts the count again
	if err := r.refused(e401); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	if err := r.refused(e401); err != nil {
		t.Fatalf("gave up after 150 ms of a new run of refusals: %v", err)
	}
	time.Sleep(100 * time.Millisecond)
	err := r.refused(e401)
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "--token-file") {
		t.Fatalf("after 250 ms of refusals: %v", err)
	}
}
