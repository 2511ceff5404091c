package api

import (
	"context"
	"encoding/json"
	"errors"
	"hash/fnv"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/lifecycle"
	"github.com/herald-sse/herald/store"
	"github.com/herald-sse/herald/views"
)

// jobLockStripes is how many mutexes serialize job writes in one process.
const jobLockStripes = 256

// pushyRuntime is the push-jobs state of one process that is not in the
// store: write locks and timer bookkeeping. Its zero value is ready.
type pushyRuntime struct {
	// locks serialize the writes to one job within this process, so that
	// concurrent node messages queue instead of racing each other through
	// compare-and-set retries. Writers in other processes are still
	// arbitrated by the store's CAS.
	locks [jobLockStripes]sync.Mutex
	// readyAt is when this process's views first caught up (unix ns; 0
	// before): node expiry waits one expiry period after it.
	readyAt atomic.Int64
}

// errNoChange is returned by a decide function whose input changes nothing:
// there is nothing to append.
var errNoChange = errors.New("no change")

// lockJob locks the writes to one job in this process; call the result to
// unlock.
func (a *API) lockJob(domain, id string) func() {
	h := fnv.New32a()
	_, _ = h.Write([]byte(domain))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(id))
	m := &a.pushy.locks[h.Sum32()%jobLockStripes]
	m.Lock()
	return m.Unlock
}

// nodeGrace reports whether node expiry is held back at now: within one
// expiry period after this process became ready, nodes that could not
// reach a stopped server are not taken down for it (neither by the timers
// nor by their first late heartbeat).
func (a *API) nodeGrace(now time.Time) bool {
	ready := a.pushy.readyAt.Load()
	return ready == 0 || now.Before(time.Unix(0, ready).Add(views.ExpiryAfter(a.heartbeatInterval())))
}

// votingTimeout is --voting-timeout.
func (a *API) votingTimeout() time.Duration {
	if a.cfg.VotingTimeout > 0 {
		return a.cfg.VotingTimeout
	}
	return lifecycle.DefaultVotingTimeout
}

// heartbeatInterval is --heartbeat-interval.
func (a *API) heartbeatInterval() time.Duration {
	if a.cfg.HeartbeatInterval > 0 {
		return a.cfg.HeartbeatInterval
	}
	return 10 * time.Second
}

// jobChange is the append of one job transition.
func jobChange(j lifecycle.Job, evs []lifecycle.Event, cmds []lifecycle.Command, expect uint64, status int) change {
	snap, _ := json.Marshal(j)
	return change{status: status, app: store.Append{
		Subject:   store.Subject("job", j.Domain, j.ID),
		ExpectSeq: expect,
		Record: store.Record{Kind: "job", Domain: j.Domain, Entity: j.ID, Snapshot: snap,
			Events: evs, Commands: cmds},
	}}
}

// nodeChange is the append of a node's presence.
func nodeChange(n views.NodeState, expect uint64, answer int) change {
	snap, _ := json.Marshal(n)
	return change{status: answer, app: store.Append{
		Subject:   store.Subject("node", n.Domain, n.Name),
		ExpectSeq: expect,
		Record:    store.Record{Kind: "node", Domain: n.Domain, Entity: n.Name, Snapshot: snap},
	}}
}

// systemCommit is a.commit for writes the server decides itself (timers,
// node downs, rehab): no caller, no Idempotency-Key. errNoChange from decide
// is success.
func (a *API) systemCommit(ctx context.Context, decide func() (change, any, error)) error {
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, "/", nil)
	if err != nil {
		return err
	}
	_, err = a.commit(ctx, r, &auth.Key{}, decide)
	if errors.Is(err, errNoChange) {
		return nil
	}
	return err
}

// jobStep applies one server-decided input to a job, under the job's lock,
// re-deciding on fresh state after a conflict; an input that changes nothing
// appends nothing.
func (a *API) jobStep(ctx context.Context, domain, id string, step func(lifecycle.Job, time.Time) (lifecycle.Job, []lifecycle.Event, []lifecycle.Command, error)) error {
	unlock := a.lockJob(domain, id)
	defer unlock()
	return a.systemCommit(ctx, func() (change, any, error) {
		e, ok := a.views.Job(domain, id)
		if !ok {
			return change{}, nil, errNoChange // purged meanwhile
		}
		nj, evs, cmds, err := step(e.Job, time.Now().UTC())
		if err != nil {
			return change{}, nil, err
		}
		if nj.Version == e.Job.Version {
			return change{}, nil, errNoChange
		}
		return jobChange(nj, evs, cmds, e.Seq, http.StatusOK), struct{}{}, nil
	})
}

// downNode applies NodeDown(reason) to every live job node is engaged in.
func (a *API) downNode(ctx context.Context, domain, node string, reason lifecycle.DownReason) error {
	var first error
	for _, e := range a.views.NodeJobs(domain, node) {
		if !e.Job.Engaged(node) {
			continue
		}
		err := a.jobStep(ctx, domain, e.Job.ID, func(j lifecycle.Job, now time.Time) (lifecycle.Job, []lifecycle.Event, []lifecycle.Command, error) {
			return j.NodeDown(node, reason, now)
		})
		if err != nil && first == nil {
			first = err
		}
	}
	return first
}
