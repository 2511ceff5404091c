package store

import (
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"
)

// advisorySubjects are the JetStream advisories about the herald stream
// that the store logs: a new stream leader (a cluster lost the old one),
// a lost quorum, and a server out of storage.
var advisorySubjects = []string{
	"$JS.EVENT.ADVISORY.STREAM.LEADER_ELECTED." + StreamName,
	"$JS.EVENT.ADVISORY.STREAM.QUORUM_LOST." + StreamName,
	"$JS.EVENT.ADVISORY.SERVER.OUT_OF_STORAGE",
}

// watchAdvisories subscribes to advisorySubjects and logs each advisory at
// warn (a leader change) or error (quorum lost, out of storage).
func (s *Store) watchAdvisories() error {
	for i, subj := range advisorySubjects {
		level := "error"
		if i == 0 {
			level = "warn"
		}
		if _, err := s.nc.Subscribe(subj, func(m *nats.Msg) { s.logAdvisory(level, m) }); err != nil {
			return fmt.Errorf("store: subscribe to %s: %w", subj, err)
		}
	}
	return nil
}

// advisory holds the fields of a JetStream advisory worth logging.
type advisory struct {
	Type   string `json:"type"`
	Stream string `json:"stream"`
	Leader string `json:"leader"`
	Server string `json:"server"`
}

func (s *Store) logAdvisory(level string, m *nats.Msg) {
	var a advisory
	_ = json.Unmarshal(m.Data, &a)
	args := []any{"advisory", m.Subject, "type", a.Type, "stream", a.Stream, "leader", a.Leader, "server", a.Server}
	if level == "warn" {
		s.log.Warn("store: JetStream stream leader changed", args...)
		return
	}
	s.log.Error("store: JetStream fault", args...)
}
