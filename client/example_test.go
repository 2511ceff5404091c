package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"

	"github.com/herald-sse/herald/client"
	"github.com/herald-sse/herald/internal/testutil"
)

// server starts a throwaway herald for an example and returns a client
// with its superadmin token.
func server() (*client.Client, func()) {
	s, stop, err := testutil.New()
	if err != nil {
		log.Fatal(err)
	}
	return s.Admin(), stop
}

// Follow a background task from a producer's side and a watcher's side.
func ExampleClient_Subscribe() {
	c, stop := server()
	defer stop()
	ctx := context.Background()
	id, err := c.CreateTask(ctx, 3, nil, "")
	if err != nil {
		log.Fatal(err)
	}
	first := make(chan struct{})
	go func() { // the producer reports once the watcher is following
		<-first
		for p := int64(1); p <= 3; p++ {
			_, _ = c.TaskProgress(ctx, id, p, -1, nil)
		}
		_, _ = c.FinishTask(ctx, id, "done", nil)
	}()
	seen := 0
	err = c.Subscribe(ctx, "/events/background-task?taskId="+id, client.FeedOptions{}, func(e client.Event) error {
		var d struct {
			Current int64 `json:"current_progress"`
			Total   int64 `json:"total_progress"`
		}
		_ = json.Unmarshal([]byte(e.Data), &d)
		if e.Type == "server_close" {
			fmt.Println(e.Type)
		} else {
			fmt.Printf("%s %d/%d\n", e.Type, d.Current, d.Total)
		}
		if seen++; seen == 1 {
			close(first)
		}
		return nil // Subscribe returns after server_close
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// task_updated 0/3
	// task_updated 1/3
	// task_updated 2/3
	// task_updated 3/3
	// task_done 3/3
	// server_close
}

// A scheduler reports a session's lifecycle; retries with the same
// Idempotency-Key are answered once.
func ExampleClient_ReportSession() {
	c, stop := server()
	defer stop()
	ctx := context.Background()
	if err := c.CreateGroup(ctx, "default", "research"); err != nil {
		log.Fatal(err)
	}
	owner, err := c.CreateKey(ctx, client.KeySpec{Role: "user", Groups: []string{"research"}})
	if err != nil {
		log.Fatal(err)
	}
	for _, ev := range []string{"session_enqueued", "session_preparing", "session_preparing"} {
		r, err := c.ReportSession(ctx, client.SessionReport{SessionID: "nb-01", OwnerAccessKey: owner.AccessKey,
			Group: "research", Event: ev}, "report-"+ev)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(ev, "→", r.State)
	}
	// Output:
	// session_enqueued → enqueued
	// session_preparing → preparing
	// session_preparing → preparing
}

// An administrator creates a tenant and a producer key for it.
func ExampleClient_CreateKey() {
	c, stop := server()
	defer stop()
	ctx := context.Background()
	if err := c.CreateDomain(ctx, "acme"); err != nil {
		log.Fatal(err)
	}
	k, err := c.CreateKey(ctx, client.KeySpec{Role: "service", Domain: "acme"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(k.Role, k.Domain, k.Token != "")
	keys, _ := c.Keys(ctx, "acme")
	fmt.Println(len(keys), keys[0].Token == "") // listed keys never show a token
	// Output:
	// service acme true
	// 1 true
}

// Start a push job and follow its feed; here its only node has never
// connected, so the quorum fails at once and the feed sends the summary.
func ExampleClient_StartJob() {
	c, stop := server()
	defer stop()
	ctx := context.Background()
	id, err := c.StartJob(ctx, "default", client.JobSpec{Command: "uptime", Nodes: []string{"ghost"}}, "")
	if err != nil {
		log.Fatal(err)
	}
	err = c.Subscribe(ctx, "/organizations/default/pushy/job_status_feed/"+id,
		client.FeedOptions{StopAfter: []string{"job_complete", "summary"}}, func(e client.Event) error {
			var d struct {
				Status string              `json:"status"`
				Nodes  map[string][]string `json:"nodes"`
			}
			_ = json.Unmarshal([]byte(e.Data), &d)
			fmt.Println(e.Type, d.Status, d.Nodes)
			return nil
		})
	if err != nil {
		log.Fatal(err)
	}
	// The job ended at once (its only node is offline); a feed opened within
	// 5 s of the end replays its whole history, later it is one summary.
	// Output:
	// start  map[]
	// quorum_vote down map[]
	// job_complete quorum_failed map[]
}
