package store

import (
	"encoding/json"
	"time"

	"github.com/herald-sse/herald/lifecycle"
)

// Record is one appended state transition: the entity's new snapshot and the
// events the transition emitted, plus what the hub routes those events on.
type Record struct {
	Kind   string `json:"kind"`             // task, session, job, node, domain, group, key, login
	Domain string `json:"domain,omitempty"` // tenant the entity belongs to
	Owner  string `json:"owner,omitempty"`  // owning access key (sessions, tasks)
	Group  string `json:"group,omitempty"`  // session group
	Entity string `json:"entity,omitempty"` // the entity's id within its kind
	// Snapshot is the entity's state after the transition (kind-specific JSON).
	Snapshot json.RawMessage `json:"snapshot,omitempty"`
	// Events emitted by the transition, in order; event i gets id <epoch>-<seq>.<i>.
	Events []lifecycle.Event `json:"events,omitempty"`
	// Commands are the push-job node commands the transition sends (job
	// records); command k gets id <epoch>-<seq>.<len(Events)+k>, so it never
	// shares an id with an event.
	Commands []lifecycle.Command `json:"commands,omitempty"`
	// Answer is the write's response body, replayed for Idempotency-Key retries.
	Answer json.RawMessage `json:"answer,omitempty"`
	// Deleted marks the end of an entity that is removed (a revoked key, a
	// logged-out cookie).
	Deleted bool `json:"deleted,omitempty"`
}

// Msg is a record as read back from the stream.
type Msg struct {
	Subject string
	Seq     uint64
	Time    time.Time
	MsgID   string // the Idempotency-Key it was written with, if any
	Record  Record
}
