package store

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"
)

// Compact removes every record on subject but the last keep ones. It bounds
// the history of entities that stay alive but keep writing, such as a push
// node's presence (its heartbeat extensions): only the newest state counts.
func (s *Store) Compact(ctx context.Context, subject string, keep uint64) error {
	if keep == 0 {
		keep = 1
	}
	return s.stream.Purge(ctx, jetstream.WithPurgeSubject(subject), jetstream.WithPurgeKeep(keep))
}
