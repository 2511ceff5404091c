package api

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/lifecycle"
	"github.com/herald-sse/herald/store"
)

// A job record's events go to the job feed (topic job/<domain>/<id>); its
// start and job_complete also to the organization feed (org/<domain>); each
// node command to that node's command feed (node/<domain>/<node>).
//
// The delivery's Extra holds the other encodings, indexed like the ids:
// Extra[i] for i < len(Events) is the organization-feed frame of event i
// (nil if the event is not on that feed), Extra[len(Events)+k] the frame
// of command k.

// hasDeliverables reports whether a record has events or node commands.
func hasDeliverables(r *store.Record) bool { return len(r.Events) > 0 || len(r.Commands) > 0 }

// pushyTopics are the topics a job record is routed on. Node records carry
// nothing to deliver.
func pushyTopics(r *store.Record) []string {
	if r.Kind != "job" {
		return nil
	}
	topics := []string{jobTopic(r.Domain, r.Entity)}
	for _, e := range r.Events {
		if e.Name == lifecycle.EventStart || e.Name == lifecycle.EventJobComplete {
			topics = append(topics, orgTopic(r.Domain))
			break
		}
	}
	seen := make(map[string]bool, len(r.Commands))
	for _, c := range r.Commands {
		if !seen[c.Node] {
			seen[c.Node] = true
			topics = append(topics, nodeTopic(r.Domain, c.Node))
		}
	}
	return topics
}

// prepareJobDelivery encodes a job record's organization-feed events and
// node commands once, for every subscriber.
func (a *API) prepareJobDelivery(d *hub.Delivery) {
	r := &d.Msg.Record
	n := len(r.Events)
	d.Extra = make([][]byte, n+len(r.Commands))
	for i, e := range r.Events {
		if data, ok := lifecycle.OrgEventData(r.Entity, e); ok {
			d.Extra[i] = a.frame(nil, d.Seq, i, e.Name, data)
		}
	}
	enc := commandEncoder{rec: r}
	for k, c := range r.Commands {
		d.Extra[n+k] = a.frame(nil, d.Seq, n+k, c.Type, enc.data(c))
	}
}

// commitData is the data of a commit command: the job as submitted.
type commitData struct {
	JobID         string            `json:"job_id"`
	Command       string            `json:"command"`
	RunTimeout    int               `json:"run_timeout"`
	User          string            `json:"user,omitempty"`
	Dir           string            `json:"dir,omitempty"`
	Env           map[string]string `json:"env,omitempty"`
	File          string            `json:"file,omitempty"`
	CaptureOutput bool              `json:"capture_output"`
}

// startSpec returns spec with its file, which the views drop (keeping its
// digest): read from the job's start record.
func (a *API) startSpec(ctx context.Context, spec lifecycle.JobSpec, startSeq uint64) (lifecycle.JobSpec, error) {
	if spec.File != "" || spec.FileDigest == "" {
		return spec, nil
	}
	m, err := a.store.Get(ctx, startSeq)
	if err != nil {
		return spec, fmt.Errorf("read the start record %d of a job: %w", startSeq, err)
	}
	var snap struct {
		Spec lifecycle.JobSpec `json:"spec"`
	}
	if err := json.Unmarshal(m.Record.Snapshot, &snap); err != nil || lifecycle.FileDigest(snap.Spec.File) != spec.FileDigest {
		return spec, fmt.Errorf("the start record %d does not hold the job's file", startSeq)
	}
	spec.File = snap.Spec.File
	return spec, nil
}

// commitJSON is the data of a commit command for a job.
func commitJSON(jobID string, s lifecycle.JobSpec) []byte {
	b, _ := json.Marshal(commitData{JobID: jobID, Command: s.Command, RunTimeout: s.RunTimeout,
		User: s.User, Dir: s.Dir, Env: s.Env, File: s.File, CaptureOutput: s.CaptureOutput})
	return b
}

// commandEncoder encodes the commands of one job record, each data once:
// every commit of a record carries the same job.
type commandEncoder struct {
	rec    *store.Record
	commit []byte
	other  map[string][]byte
}

func (e *commandEncoder) data(c lifecycle.Command) []byte {
	if c.Type == lifecycle.CmdCommit {
		if e.commit == nil {
			var snap struct {
				Spec lifecycle.JobSpec `json:"spec"`
			}
			_ = json.Unmarshal(e.rec.Snapshot, &snap)
			e.commit = commitJSON(c.JobID, snap.Spec)
		}
		return e.commit
	}
	if b, ok := e.other[c.JobID]; ok {
		return b
	}
	b, _ := json.Marshal(map[string]string{"job_id": c.JobID})
	if e.other == nil {
		e.other = map[string][]byte{}
	}
	e.other[c.JobID] = b
	return b
}

// commandID is the id of command k of a record with n events at seq.
func (a *API) commandID(seq uint64, n, k int) herald.ID {
	return herald.ID{Epoch: a.store.Epoch(), Seq: seq, Idx: uint32(n + k)}
}

// addCommands buffers the commands of record m for node that come after
// the stream's last id, using the delivery's frames when given.
func (s *stream) addCommands(m *store.Msg, extra [][]byte, node string) {
	r := &m.Record
	n := len(r.Events)
	var enc *commandEncoder
	for k, c := range r.Commands {
		if c.Node != node {
			continue
		}
		id := s.a.commandID(m.Seq, n, k)
		if !id.After(s.last) {
			continue
		}
		if n+k < len(extra) && extra[n+k] != nil {
			s.buf = append(s.buf, extra[n+k]...)
		} else {
			if enc == nil {
				enc = &commandEncoder{rec: r}
			}
			s.buf = s.a.frame(s.buf, m.Seq, n+k, c.Type, enc.data(c))
		}
		s.last = id
	}
}

// addOrgEvents buffers the organization-feed events of record m that come
// after the stream's last id, using the delivery's frames when given.
func (s *stream) addOrgEvents(m *store.Msg, extra [][]byte) {
	r := &m.Record
	for i, e := range r.Events {
		if e.Name != lifecycle.EventStart && e.Name != lifecycle.EventJobComplete {
			continue
		}
		id := herald.ID{Epoch: s.a.store.Epoch(), Seq: m.Seq, Idx: uint32(i)}
		if !id.After(s.last) {
			continue
		}
		if i < len(extra) && extra[i] != nil {
			s.buf = append(s.buf, extra[i]...)
		} else if data, ok := lifecycle.OrgEventData(r.Entity, e); ok {
			s.buf = s.a.frame(s.buf, m.Seq, i, e.Name, data)
		} else {
			continue
		}
		s.last = id
	}
}
