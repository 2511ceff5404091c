package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/herald-sse/herald/client"
)

// TestPushyJobREST: POST /pushy/jobs → 201 with Location and {"uri"} (a
// retry with the same Idempotency-Key returns the same job and writes
// nothing); the list is newest first, paged with ?limit and ?before and a
// Link rel="next" while more remain, its items without nodes.
func TestPushyJobREST(t *testing.T) {
	s := pjServer(t)
	ctx := context.Background()
	svc := s.CreateKey(t, "service", "default", nil, "")
	body := `{"command":"chef-client","nodes":["off1","off2"],"quorum":1,"run_timeout":300,"user":"deploy","dir":"/srv","env":{"K":"v"},"file":"raw:#!/bin/sh","capture_output":true}`
	post := func(key string) (*http.Response, string) {
		h := map[string]string{"Content-Type": "application/json"}
		if key != "" {
			h["Idempotency-Key"] = key
		}
		resp := pjDo(t, s, "POST", "/organizations/default/pushy/jobs", svc.Token, body, h)
		defer resp.Body.Close()
		var out struct {
			URI string `json:"uri"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode != 201 || out.URI == "" || resp.Header.Get("Location") != out.URI {
			t.Fatalf("POST: %d uri %q Location %q", resp.StatusCode, out.URI, resp.Header.Get("Location"))
		}
		return resp, out.URI
	}
	_, uri := post("k1")
	if !regexp.MustCompile(`^` + regexp.QuoteMeta(s.URL) + `/organizations/default/pushy/jobs/[0-9a-f]{32}$`).MatchString(uri) {
		t.Fatalf("uri %q", uri)
	}
	applied := s.API.Views().Applied()
	if _, again := post("k1"); again != uri || s.API.Views().Applied() != applied {
		t.Fatalf("retry: %q vs %q, applied %d → %d", again, uri, applied, s.API.Views().Applied())
	}
	id := uri[strings.LastIndexByte(uri, '/')+1:]
	var sum map[string]any
	if err := s.Client(svc.Token).Do(ctx, "GET", "/organizations/default/pushy/jobs/"+id, nil, &sum, ""); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"id": id, "command": "chef-client", "status": "quorum_failed", "run_timeout": 300.0, "quorum": 1.0,
		"requested_by": svc.AccessKey, "user": "deploy", "dir": "/srv", "env": map[string]any{"K": "v"},
		"capture_output": true, "file_specified": true, "nodes": map[string]any{"unavailable": []any{"off1", "off2"}}}
	for k, v := range want {
		if b1, _ := json.Marshal(sum[k]); string(b1) != mustJSON(v) {
			t.Errorf("summary %s = %s, want %s", k, b1, mustJSON(v))
		}
	}
	if len(sum) != len(want)+2 { // + created_at, updated_at
		t.Errorf("summary keys: %v", sum)
	}

	ids := []string{id}
	for i := 0; i < 4; i++ {
		_, u := post("")
		ids = append(ids, u[strings.LastIndexByte(u, '/')+1:])
	}
	// Newest first, two per page.
	var got []string
	next := "/organizations/default/pushy/jobs?limit=2"
	for pages := 0; next != ""; pages++ {
		if pages > 3 {
			t.Fatal("too many pages")
		}
		resp := pjDo(t, s, "GET", strings.TrimPrefix(next, s.URL), svc.Token, "", nil)
		var items []map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&items)
		resp.Body.Close()
		for _, it := range items {
			if _, has := it["nodes"]; has {
				t.Fatalf("list item with nodes: %v", it)
			}
			got = append(got, it["id"].(string))
		}
		next = ""
		if l := resp.Header.Get("Link"); l != "" {
			m := regexp.MustCompile(`^<([^>]+)>; rel="next"$`).FindStringSubmatch(l)
			if m == nil {
				t.Fatalf("Link %q", l)
			}
			next = m[1]
		}
	}
	if strings.Join(got, ",") != strings.Join([]string{ids[4], ids[3], ids[2], ids[1], ids[0]}, ",") {
		t.Fatalf("list %v, want newest first of %v", got, ids)
	}
	// A node key of the domain may read; the list with before.
	nk := s.CreateKey(t, "node", "default", nil, "reader")
	var items []client.JobSummary
	if err := s.Client(nk.Token).Do(ctx, "GET", "/organizations/default/pushy/jobs?before="+ids[2], nil, &items, ""); err != nil || len(items) != 2 || items[0].ID != ids[1] {
		t.Fatalf("before: %+v %v", items, err)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
