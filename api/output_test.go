package api_test

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/herald-sse/herald/client"
)

// TestCapturedOutputImmutable: a node's output is stored only with the
// message that ends its run, checked before it is written, and never once
// the job ended: a late "succeeded" with new stdout after job_complete
// leaves the captured output as it was (issue 12).
func TestCapturedOutputImmutable(t *testing.T) {
	s := pjServer(t)
	ctx := context.Background()
	svc := s.CreateKey(t, "service", "default", nil, "")
	c := s.Client(svc.Token)
	m := pjManualNode(t, s, "m")
	m.beating()
	pjWaitAvailable(t, c, "default", "m")
	output := func(id string) (int, string) {
		resp := pjDo(t, s, "GET", "/organizations/default/pushy/jobs/"+id+"/output/m/stdout", svc.Token, "", nil)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	say := func(typ, id, stdout string) error {
		_, err := m.c.SendNodeMessage(ctx, "default", "m", client.NodeMessage{Type: typ, JobID: id, Stdout: &stdout}, "")
		return err
	}

	// Output sent with a message that does not end the node's run is not
	// stored.
	id, err := c.StartJob(ctx, "default", client.JobSpec{Command: "chef-client", Nodes: []string{"m"}, CaptureOutput: true}, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := say("ack_commit", id, "early"); err != nil {
		t.Fatal(err)
	}
	if st, body := output(id); st != http.StatusNotFound {
		t.Fatalf("after ack_commit with stdout: output %d %q, want 404", st, body)
	}

	// The real run's output, then a late rewrite after job_complete.
	pjWaitStatus(t, c, "default", id, "running")
	m.send("ack_run", id)
	if err := say("succeeded", id, "first"); err != nil {
		t.Fatal(err)
	}
	pjWaitStatus(t, c, "default", id, "complete")
	_ = say("succeeded", id, "second")
	_ = say("failed", id, "third")
	if st, body := output(id); st != http.StatusOK || body != "first" {
		t.Fatalf("captured output after late messages: %d %q, want \"first\"", st, body)
	}
}
