package api

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/store"
)

// The fan-out behind the tail.
//
// The tail applies each record to the views, which acknowledges its write,
// and hands it to fanOut, which encodes its events and dispatches them to
// the hub. A record that reaches 10,000 subscribers takes milliseconds to
// dispatch; in line on the tail, every write behind it (another tenant's
// too) waited that long for its acknowledgement.
//
// What keeps a producer from outrunning the fan-out is back-pressure on
// that producer alone: a write is answered once it is applied and once the
// write its access key made writeWindow writes before was fanned out and
// taken by the hub's writers (keyTurn). A key thus has at most writeWindow
// records that its subscribers have not been handed yet, so a producer
// whose events go to thousands goes as fast as they are written (a few
// events per write to each subscriber), and a producer next to it goes as
// fast as the store.

const (
	// fanoutQueue is how many applied records may wait for fanOut before
	// the tail waits too.
	fanoutQueue = 64
	// writeWindow is how many of its writes a key may have that the
	// hub's writers have not taken yet. 8 keeps an event's wait at the
	// maximum rate within that of the build before the fan-out moved
	// behind the tail, with 1.2-1.8x its throughput; 32 carried more
	// events per write (up to 1.6x more deliveries/s) but doubled the
	// wait (docs/decisions.md, "A producer 8 writes ahead").
	writeWindow = 8
	// keyTurnWait bounds how long a write's answer waits for its key's
	// window (the write itself is done; a writer blocked on one client
	// must not hold a producer up for long).
	keyTurnWait = 5 * time.Second
	// fanMarks is how many recent dispatches fanOut remembers the
	// writers' turn count after.
	fanMarks = 4096
)

// fanLog remembers, for the recent dispatches, how many turns the hub's
// writers had queued right after: once they took that many, the record's
// subscribers have been handed it.
type fanLog struct {
	mu    sync.Mutex
	seq   [fanMarks]uint64
	turns [fanMarks]hub.Mark
	n     int // entries written; entry i is at i % fanMarks
}

func (l *fanLog) add(seq uint64, turns hub.Mark) {
	l.mu.Lock()
	l.seq[l.n%fanMarks], l.turns[l.n%fanMarks] = seq, turns
	l.n++
	l.mu.Unlock()
}

// turnsAfter is the writers' turn count right after the dispatch of the
// record at seq, or of the first record after it; false when that is no
// longer remembered (or not dispatched yet).
func (l *fanLog) turnsAfter(seq uint64) (hub.Mark, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lo := max(0, l.n-fanMarks)
	k := sort.Search(l.n-lo, func(i int) bool { return l.seq[(lo+i)%fanMarks] >= seq })
	if k == l.n-lo || (k == 0 && lo > 0 && l.seq[lo%fanMarks] > seq) {
		return hub.Mark{}, false
	}
	return l.turns[(lo+k)%fanMarks], true
}

// fanOut dispatches the records the tail applied, in order, until the
// channel closes. It never waits for the hub's writers.
func (a *API) fanOut(fan <-chan *store.Msg) {
	for m := range fan {
		if h := a.fanHook.Load(); h != nil {
			(*h)(m.Seq)
		}
		a.dispatch(m)
		a.fans.add(m.Seq, a.hub.Turns())
		a.fanned.Advance(m.Seq)
	}
}

// keyWrites is an access key's last writeWindow writes.
type keyWrites struct {
	seq [writeWindow]uint64
	n   int
}

// keyTurn records seq as accessKey's latest write and waits, at most
// keyTurnWait, until the hub's writers took the fan-out of the key's write
// writeWindow writes back.
func (a *API) keyTurn(ctx context.Context, accessKey string, seq uint64) {
	a.lastWrite.mu.Lock()
	w := a.lastWrite.keys[accessKey]
	if w == nil {
		w = &keyWrites{}
		a.lastWrite.keys[accessKey] = w
	}
	back := w.seq[w.n%writeWindow] // writeWindow writes back (0: fewer so far)
	w.seq[w.n%writeWindow] = seq
	w.n++
	a.lastWrite.mu.Unlock()
	if back == 0 {
		return
	}
	wctx, cancel := context.WithTimeout(ctx, keyTurnWait)
	defer cancel()
	if a.fanned.Wait(wctx, back) != nil {
		return
	}
	if turns, ok := a.fans.turnsAfter(back); ok {
		_ = a.hub.WaitTurns(wctx, turns)
	}
}
