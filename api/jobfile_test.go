package api_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/herald-sse/herald/api"
	"github.com/herald-sse/herald/client"
	"github.com/herald-sse/herald/internal/testutil"
	"github.com/herald-sse/herald/store"
)

// TestJobFileOnlyInStartRecord: a job's file is kept in its start record
// only: later records (and the views) carry its digest, the summary still
// says file_specified, and a node that connects later — after a restart
// too — still gets the whole file in its commit, read from the start
// record.
func TestJobFileOnlyInStartRecord(t *testing.T) {
	// The nodes must stay up and the vote open across the restart: m2's
	// commit is owed only while m2 is up and the job waits for its
	// answer. pjServer's pace (down after 3 missed 100 ms heartbeats, a
	// 3 s vote) ran out while a busy box restarted the server, under
	// -race -count=5.
	s := pjServer(t, testutil.WithConfig(func(c *api.Config) {
		c.HeartbeatInterval, c.VotingTimeout = 2*time.Second, time.Minute
	}))
	ctx := context.Background()
	svc := s.CreateKey(t, "service", "default", nil, "")
	c := s.Client(svc.Token)
	m1, m2 := pjManualNode(t, s, "m1"), pjManualNode(t, s, "m2")
	stop1, stop2 := m1.beating(), m2.beating()
	pjWaitAvailable(t, c, "default", "m1", "m2")
	file := "base64:" + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("#!/bin/sh\necho hi\n", 4000)))
	id, err := c.StartJob(ctx, "default", client.JobSpec{Command: "chef-client", Nodes: []string{"m1", "m2"}, File: file}, "")
	if err != nil {
		t.Fatal(err)
	}
	m1.send("ack_commit", id) // a later record of the job
	last, err := s.Store.Last(ctx, store.Subject("job", "default", id))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(last.Record.Snapshot), file[:200]) || !strings.Contains(string(last.Record.Snapshot), `"file_sha256"`) {
		t.Fatalf("the vote's record carries the file (%d bytes of snapshot)", len(last.Record.Snapshot))
	}
	if sum, err := c.GetJob(ctx, "default", id); err != nil || !sum.FileSpecified {
		t.Fatalf("summary: %+v %v", sum, err)
	}
	stop1()
	stop2()
	s.Restart(t)
	m2.c = s.Client(m2.token)
	m2.beating()
	f := s.OpenFeed(t, "/organizations/default/pushy/nodes/m2/commands", m2.token, nil)
	commit := pjReadN(t, f, 1, 10*time.Second)[0]
	var d struct {
		File string `json:"file"`
	}
	_ = json.Unmarshal([]byte(commit.Data), &d)
	if commit.Type != "commit" || d.File != file {
		t.Fatalf("the owed commit after a restart: %s with a %d-byte file, want %d bytes", commit.Type, len(d.File), len(file))
	}
}
