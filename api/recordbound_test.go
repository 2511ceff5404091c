package api

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/herald-sse/herald/lifecycle"
	"github.com/herald-sse/herald/store"
)

// TestLargestJobFitsARecord: the limits of a job request are coherent with
// the store's record bound: the largest start they allow (10,000 nodes of
// 64-character names, each available, the largest env, command, user, dir
// and file) is one record within store.MaxRecordBytes.
func TestLargestJobFitsARecord(t *testing.T) {
	nodes := make([]string, lifecycle.MaxJobNodes)
	avail := make(map[string]bool, len(nodes))
	for i := range nodes {
		nodes[i] = fmt.Sprintf("%064d", i)
		avail[nodes[i]] = true
	}
	env := map[string]string{}
	per := lifecycle.MaxJobEnvBytes/lifecycle.MaxJobEnvEntries - 4
	for i := 0; i < lifecycle.MaxJobEnvEntries; i++ {
		env[fmt.Sprintf("V%03d", i)] = strings.Repeat("x", per)
	}
	spec := lifecycle.JobSpec{Command: strings.Repeat("c", lifecycle.MaxJobCommand), Nodes: nodes, Env: env,
		User: strings.Repeat("u", lifecycle.MaxJobUser), Dir: strings.Repeat("d", lifecycle.MaxJobDir),
		RequestedBy: "HK" + strings.Repeat("X", 18),
		File:        "base64:" + base64.StdEncoding.EncodeToString(make([]byte, lifecycle.MaxJobFileBytes))}
	j, evs, cmds, err := lifecycle.StartJob(newJobID(), "default", spec, avail, time.Minute, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ch := jobChange(j, evs, cmds, 0, http.StatusCreated)
	b, err := ch.app.Record.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the largest job start is a record of %d bytes (bound %d)", len(b), store.MaxRecordBytes)
	if len(b) > store.MaxRecordBytes {
		t.Fatalf("the largest job the limits allow is a %d-byte record, over store.MaxRecordBytes %d", len(b), store.MaxRecordBytes)
	}
}
