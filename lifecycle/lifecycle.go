// Package lifecycle holds herald's state machines as pure functions:
// (snapshot, input, now) → (new snapshot, events, error). It does no I/O, so
// every rule of SPEC.md §3, §4 and §5.2 is table-testable here.
package lifecycle

import "encoding/json"

// Event is one SSE event emitted by a transition: its name and its data, one
// JSON object on one line. Ids are assigned by the store when the transition
// is appended.
type Event struct {
	Name string          `json:"name"`
	Data json.RawMessage `json:"data"`
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		// Only called with types defined in this package, which always marshal.
		panic("lifecycle: " + err.Error())
	}
	return b
}
