package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/herald-sse/herald/api"
	"github.com/herald-sse/herald/client"
	"github.com/herald-sse/herald/internal/testutil"
)

// BenchmarkPushyJob100Nodes: one op is one push job on 100 nodes, from
// POST /pushy/jobs to its job_complete on the organization feed. The 100
// nodes are scripted in-process HTTP clients of the node protocol
// (testutil.PushyNode over loopback: heartbeats, an SSE command feed each,
// messages acked by the server), so each job is 1 start + 300 node
// messages (ack_commit, ack_run, succeeded) and 200 commands delivered.
// ns/op is the wall time per job; msgs/s the node messages applied per
// second.
func BenchmarkPushyJob100Nodes(b *testing.B) {
	s := testutil.Start(b, testutil.WithConfig(func(c *api.Config) {
		c.QueueSize = 4096
		c.HeartbeatInterval = 10 * time.Second
	}))
	svc := s.CreateKey(b, "service", "default", nil, "")
	c := s.Client(svc.Token)
	names := make([]string, 100)
	for i := range names {
		names[i] = fmt.Sprintf("node%03d", i)
	}
	pjNodes(b, s, "default", testutil.Obedient, names...)
	pjWaitAvailable(b, c, "default", names...)
	org := s.OpenFeed(b, orgFeedPath("default"), svc.Token, nil)
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		id, err := c.StartJob(ctx, "default", client.JobSpec{Command: "chef-client", Nodes: names}, "")
		if err != nil {
			b.Fatal(err)
		}
		for {
			e, err := org.Next()
			if err != nil {
				b.Fatal(err)
			}
			var d struct{ Job, Status string }
			_ = json.Unmarshal([]byte(e.Data), &d)
			if e.Type == "job_complete" && d.Job == id {
				if d.Status != "complete" {
					b.Fatalf("job %s: %s", id, d.Status)
				}
				break
			}
		}
		if i < b.N-1 {
			pjWaitAvailable(b, c, "default", names...)
		}
	}
	b.ReportMetric(float64(300*b.N)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkPushyNodeMessages: node messages applied per second, sent by
// direct HTTP calls (one goroutine and connection per node, each message
// acknowledged before the next). Each round every node of each job sends
// ack_commit (all of them: the vote), then ack_run and succeeded; one op is
// one round (a job start per job and 300 messages). "1x100" is one
// job of 100 nodes (all messages on one job: serialized by its lock and
// CAS); "10x10" is ten jobs of ten nodes at once.
func BenchmarkPushyNodeMessages(b *testing.B) {
	for _, shape := range []struct{ jobs, nodes int }{{1, 100}, {10, 10}} {
		b.Run(fmt.Sprintf("%dx%d", shape.jobs, shape.nodes), func(b *testing.B) {
			benchMessages(b, shape.jobs, shape.nodes)
		})
	}
}

func benchMessages(b *testing.B, jobs, perJob int) {
	s := testutil.Start(b, testutil.WithConfig(func(c *api.Config) { c.HeartbeatInterval = time.Minute }))
	ctx := context.Background()
	svc := s.CreateKey(b, "service", "default", nil, "")
	c := s.Client(svc.Token)
	type node struct {
		name string
		c    *client.Client
	}
	groups := make([][]node, jobs)
	tr := &http.Transport{MaxIdleConnsPerHost: 256}
	for j := range groups {
		for i := 0; i < perJob; i++ {
			name := fmt.Sprintf("j%dn%d", j, i)
			k := s.CreateKey(b, "node", "default", nil, name)
			nc := &client.Client{Server: s.URL, Token: k.Token, HTTP: &http.Client{Transport: tr}}
			if _, err := nc.Heartbeat(ctx, "default", name, "bench", ""); err != nil {
				b.Fatal(err)
			}
			groups[j] = append(groups[j], node{name, nc})
		}
	}
	b.ResetTimer()
	start := time.Now()
	for r := 0; r < b.N; r++ {
		var wg sync.WaitGroup
		for _, g := range groups {
			wg.Add(1)
			go func() {
				defer wg.Done()
				names := make([]string, len(g))
				for i, n := range g {
					names[i] = n.name
				}
				id, err := c.StartJob(ctx, "default", client.JobSpec{Command: "x", Nodes: names}, "")
				if err != nil {
					b.Error(err)
					return
				}
				// Votes first (ack_run while voting would be a confused
				// node), then the runs.
				for _, phase := range [][]string{{"ack_commit"}, {"ack_run", "succeeded"}} {
					var pw sync.WaitGroup
					for _, n := range g {
						pw.Add(1)
						go func() {
							defer pw.Done()
							for _, typ := range phase {
								if _, err := n.c.SendNodeMessage(ctx, "default", n.name, client.NodeMessage{Type: typ, JobID: id}, ""); err != nil {
									b.Error(err)
									return
								}
							}
						}()
					}
					pw.Wait()
				}
			}()
		}
		wg.Wait()
	}
	el := time.Since(start)
	b.ReportMetric(float64(b.N*3*jobs*perJob)/el.Seconds(), "msgs/s")
}
