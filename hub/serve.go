package hub

import (
	"runtime"
	"sync"
	"time"
)

// Serve hands s to the hub's writers: instead of a goroutine blocking on
// s.C for each delivery, a pool goroutine calls fn whenever deliveries
// were queued for s (or Kick asked for it, or the hub ended s). fn drains
// s (Next), writes everything it took in one write and returns; it must
// not block (a client that does not take a write at once is finished by
// a goroutine of its own, see api's stream). fn never runs twice at once
// for one subscriber, and a delivery queued while fn runs makes it run
// again. Serve also runs fn once soon, for what was queued before.
//
// A burst of events thus costs each subscriber one turn and one write for
// everything queued when its turn came, and a dispatch readies a writer,
// not thousands of goroutines. Dispatch never waits for a subscriber's
// client, but it does wait (up to a second) for the writers when they fall
// a few dispatches behind (see waitCaughtUp).
func (h *Hub) Serve(s *Sub, fn func()) {
	s.serve.Store(&fn)
	h.wake(s, h.gen.Load())
}

// Kick asks for s's serve function to run even with nothing queued (a
// keepalive is due, a blocked write finished). It does nothing for a
// subscriber that is not served.
func (h *Hub) Kick(s *Sub) {
	if s.serve.Load() != nil {
		h.wake(s, h.gen.Load())
	}
}

// Turn states of a served subscriber.
const (
	turnIdle    int32 = iota // not queued, not running
	turnQueued               // in the ready list
	turnRunning              // its serve function runs
	turnAgain                // runs, and was woken meanwhile: queue again after
)

// wake queues s for a turn, readied by dispatch gen, unless it is queued
// already; if its serve function is running, it runs again after.
func (h *Hub) wake(s *Sub, gen uint64) {
	for {
		switch st := s.turn.Load(); st {
		case turnIdle:
			if s.turn.CompareAndSwap(turnIdle, turnQueued) {
				h.pool.push(s, gen)
				return
			}
		case turnRunning:
			s.woken.Store(gen)
			if s.turn.CompareAndSwap(turnRunning, turnAgain) {
				return
			}
		default: // queued, or already due again
			return
		}
	}
}

// writerPool runs the serve functions of subscribers with a turn due,
// first come first served, on at most max goroutines: GOMAXPROCS-1 (at
// least one), so a processor stays free for the producers, the store and
// the dispatcher that feed them; a sweep over many streams then carries
// every event that arrived meanwhile.
type writerPool struct {
	mu      sync.Mutex
	work    sync.Cond // writers wait for turns
	caught  sync.Cond // the dispatcher waits for the writers to catch up
	ready   []entry
	head    int
	idle    int // writers waiting on work
	writers int
	max     int
	waiting bool // the dispatcher waits on caught
}

// entry is a turn due: the subscriber and the dispatch that readied it.
type entry struct {
	s   *Sub
	gen uint64
}

func (p *writerPool) init() {
	p.work.L = &p.mu
	p.caught.L = &p.mu
	p.max = max(1, runtime.GOMAXPROCS(0)-1)
}

// push queues a turn for s, readied by dispatch gen.
func (p *writerPool) push(s *Sub, gen uint64) {
	p.mu.Lock()
	p.ready = append(p.ready, entry{s, gen})
	if p.idle > 0 {
		p.idle--
		p.work.Signal()
	} else if p.writers < p.max {
		p.writers++
		go p.run()
	}
	p.mu.Unlock()
}

// next waits for a turn due and takes it.
func (p *writerPool) next() *Sub {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.head == len(p.ready) {
		p.idle++
		p.work.Wait()
	}
	s := p.ready[p.head].s
	p.ready[p.head] = entry{}
	p.head++
	switch {
	case p.head == len(p.ready):
		p.ready, p.head = p.ready[:0], 0
	case p.head > 4096 && p.head > len(p.ready)/2:
		k := copy(p.ready, p.ready[p.head:])
		clear(p.ready[k:])
		p.ready, p.head = p.ready[:k], 0
	}
	if p.waiting {
		p.caught.Broadcast()
	}
	return s
}

// lagLocked is how many dispatches ago the longest-waiting turn was
// readied: about how many deliveries its queue holds.
func (p *writerPool) lagLocked(gen uint64) uint64 {
	if p.head == len(p.ready) || gen <= p.ready[p.head].gen {
		return 0
	}
	return gen - p.ready[p.head].gen
}

// waitCaughtUp blocks while the turns due lag more than limit dispatches
// behind gen, or until timeout. Turns never wait for a client, so a lag is
// the writers' lack of processor time (the server is saturated), not a
// slow client: holding up the dispatcher (and with it the store's tail
// and the producers' acknowledgements) gives the writers that time, rather
// than letting queues overflow and ending subscribers whose clients keep
// up fine. After timeout the dispatcher goes on and full queues end their
// subscribers as usual.
func (p *writerPool) waitCaughtUp(gen, limit uint64, timeout time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lagLocked(gen) <= limit {
		return
	}
	expired := false
	t := time.AfterFunc(timeout, func() {
		p.mu.Lock()
		expired = true
		p.caught.Broadcast()
		p.mu.Unlock()
	})
	p.waiting = true
	for !expired && p.lagLocked(gen) > limit {
		p.caught.Wait()
	}
	p.waiting = false
	t.Stop()
}

// run is one writer. Writers live as long as the process: there are at
// most GOMAXPROCS-1 of them per hub.
func (p *writerPool) run() {
	for turns := 1; ; turns++ {
		s := p.next()
		s.turn.Store(turnRunning)
		if fn := s.serve.Load(); fn != nil {
			(*fn)()
		}
		if !s.turn.CompareAndSwap(turnRunning, turnIdle) {
			// Woken while it ran: to the back of the line, so one busy
			// stream does not keep a writer from the others.
			s.turn.Store(turnQueued)
			p.push(s, s.woken.Load())
		}
		// A sweep over thousands of streams is back-to-back writes: let
		// the producers, the store and the dispatcher in between, so new
		// events keep coming and the next sweep carries them together.
		if turns%16 == 0 {
			runtime.Gosched()
		}
	}
}
