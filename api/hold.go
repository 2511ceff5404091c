package api

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
)

// A write steps the stream writers' bulk fan-out aside (hub.Hold) while
// its handler runs, unless its own domain is fanning out to thousands:
// then it is that fan-out's producer, and the hub's back-pressure on its
// key (keyTurn, fanout.go) paces it instead. So a tenant's writes are
// answered without waiting for the CPU behind another tenant's sweep to
// 10,000 streams (docs/decisions.md, "Bulk fan-out steps aside for other
// tenants' writes").

// fanningFor is how long a domain counts as fanning out after its last
// record went to more than 512 subscribers of one topic.
const fanningFor = time.Second

// fanningDomains remembers when each domain last fanned out to thousands.
type fanningDomains struct {
	m sync.Map // domain → *atomic.Int64 (unix nanoseconds)
}

// mark records that a record of domain went to the bulk lane now.
func (f *fanningDomains) mark(domain string) {
	v, ok := f.m.Load(domain)
	if !ok {
		v, _ = f.m.LoadOrStore(domain, new(atomic.Int64))
	}
	v.(*atomic.Int64).Store(time.Now().UnixNano())
}

// recent reports whether domain fanned out to thousands within
// fanningFor.
func (f *fanningDomains) recent(domain string) bool {
	v, ok := f.m.Load(domain)
	return ok && time.Now().UnixNano()-v.(*atomic.Int64).Load() < int64(fanningFor)
}

// holdsWriters reports whether request r of key k holds the writers'
// bulk fan-out: a write (not GET or HEAD) of a key with a domain that is
// not fanning out itself. The superadmin's writes do not hold: they may
// be to any domain, so they cannot be told apart from a fan-out's.
func (a *API) holdsWriters(r *http.Request, k *auth.Key) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead || k.Role == herald.RoleSuperadmin || k.Domain == "" {
		return false
	}
	return !a.fanning.recent(k.Domain)
}
