package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/store"
)

// errEventFound stops the read of nothingLeft at the first event found.
var errEventFound = errors.New("event found")

// nothingLeft reports whether a finished entity's feed, resumed after the
// recognized id `after`, has no event left to send: no event of subject's
// records up to upto lies after it (SPEC §4, §5.3). It reads only the
// records from after's on, so a client resuming at the end costs one
// record read.
func (a *API) nothingLeft(ctx context.Context, subject string, after herald.ID, upto uint64) (bool, error) {
	from := after.Seq
	if from > 0 {
		from-- // the record of `after` may hold later events of the same transition
	}
	epoch := a.store.Epoch()
	err := a.store.Read(ctx, subject, from, upto, func(m store.Msg) error {
		for i := range m.Record.Events {
			if (herald.ID{Epoch: epoch, Seq: m.Seq, Idx: uint32(i)}).After(after) {
				return errEventFound
			}
		}
		return nil
	})
	if errors.Is(err, errEventFound) {
		return false, nil
	}
	return err == nil, err
}

// endedFeed answers 204 No Content when a finished entity's feed is
// resumed at its last event (or later): a browser's EventSource then
// stops reconnecting for good. It reports whether it answered. A store
// error leaves the decision to the feed (it streams what it can).
func (a *API) endedFeed(w http.ResponseWriter, r *http.Request, subject string, after herald.ID, upto uint64) bool {
	done, err := a.nothingLeft(r.Context(), subject, after, upto)
	if err != nil || !done {
		return false
	}
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusNoContent)
	return true
}
