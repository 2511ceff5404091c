package hub

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/herald-sse/herald/internal/seqwait"
	"github.com/herald-sse/herald/internal/threadprio"
)

// Serve hands s to the hub's writers: instead of a goroutine blocking on
// s's queue, a pool goroutine calls fn whenever deliveries were queued for
// s (or Kick asked for it, or the hub ended s). fn drains s (Next), writes
// everything it took in one write and returns; it must not block (a client
// that does not take a write at once is finished by a goroutine of its
// own, see api's stream). fn never runs twice at once for one subscriber,
// and a delivery queued while fn runs makes it run again. Serve also runs
// fn once soon, for what was queued before.
//
// A burst of events thus costs each subscriber one turn and one write for
// everything queued when its turn came, and a dispatch readies a writer,
// not thousands of goroutines. Dispatch never waits for the writers: when
// they lag, queues grow, and a subscriber that would owe more than its
// byte bound is ended. A panic in fn ends s (EndPanic) and is logged; the
// writer goes on.
func (h *Hub) Serve(s *Sub, fn func()) {
	s.serve.Store(&fn)
	h.wake(s)
}

// Kick asks for s's serve function to run even with nothing queued (a
// keepalive is due, a blocked write finished). It does nothing for a
// subscriber that is not served.
func (h *Hub) Kick(s *Sub) {
	if s.serve.Load() != nil {
		h.wake(s)
	}
}

// Turn states of a served subscriber.
const (
	turnIdle    int32 = iota // not queued, not running
	turnQueued               // in the ready list
	turnRunning              // its serve function runs
	turnAgain                // runs, and was woken meanwhile: queue again after
)

// wake queues s for a turn unless it is queued already; if its serve
// function is running, it runs again after.
func (h *Hub) wake(s *Sub) {
	for {
		switch st := s.turn.Load(); st {
		case turnIdle:
			if s.turn.CompareAndSwap(turnIdle, turnQueued) {
				h.pool.push(s)
				return
			}
		case turnRunning:
			if s.turn.CompareAndSwap(turnRunning, turnAgain) {
				return
			}
		default: // queued, or already due again
			return
		}
	}
}

// A writer's turns count as bulk work once defaultBulkTurns are queued (a
// subscriber has at most one queued turn: an event on its way to over
// 2,000 streams, some 10 ms of writes on the 2-core machine of
// docs/benchmarks.md), or once it has been busy defaultBulkAfter (fewer
// streams that each take long). A sweep of one event to a thousand
// streams is neither: it is written at the process's priority.
const (
	defaultBulkTurns = 2048
	defaultBulkAfter = 50 * time.Millisecond
)

// writerPool runs the serve functions of subscribers with a turn due,
// first come first served, on at most max goroutines: one fewer than the
// cores (Config.Writers; at least one), so a core stays free for the
// producers, the store and the dispatcher that feed them; a sweep over many streams then carries
// every event that arrived meanwhile. Writers start on demand and stop at
// close, which waits for them.
type writerPool struct {
	h       *Hub
	mu      sync.Mutex
	work    sync.Cond // writers wait for turns
	ready   []*Sub
	head    int
	idle    int // writers waiting on work
	writers int
	max     int
	nice    int // steps below the process's priority (Config.WriterNice)
	// A writer's turns are bulk work (see run) once bulkTurns are queued
	// behind it, or once it took turns for bulkAfter without the queue
	// running dry.
	bulkTurns int
	bulkAfter time.Duration
	niceErr   sync.Once // a failure to lower it is logged once
	closed    bool
	wg        sync.WaitGroup

	// Turns are numbered in the order they are queued: pushed counts the
	// turns queued, taken the turns writers took (first come first
	// served, so every turn up to taken was taken).
	pushed, took uint64
	taken        seqwait.Position // took, for WaitTurns (all of them once closed)
}

func (p *writerPool) init(h *Hub, writers, nice int) {
	p.h = h
	p.nice = nice
	p.bulkTurns, p.bulkAfter = defaultBulkTurns, defaultBulkAfter
	p.work.L = &p.mu
	if writers <= 0 {
		writers = runtime.GOMAXPROCS(0) - 1
	}
	p.max = max(1, writers)
}

// push queues a turn for s. After close it does nothing.
func (p *writerPool) push(s *Sub) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.ready = append(p.ready, s)
	p.pushed++
	if p.idle > 0 {
		p.idle--
		p.work.Signal()
	} else if p.writers < p.max {
		p.writers++
		p.wg.Add(1)
		go p.run()
	}
}

// next takes the first turn due. When there is none it waits for one if
// wait is set (waited reports that it did), else returns nil with waited
// true. It returns nil, false once the pool is closed and no turn is left.
func (p *writerPool) next(wait bool) (s *Sub, waited bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.head == len(p.ready) {
		if p.closed {
			return nil, false
		}
		if !wait {
			return nil, true
		}
		waited = true
		p.idle++
		p.work.Wait()
	}
	s = p.ready[p.head]
	p.ready[p.head] = nil
	p.head++
	p.took++
	if !p.closed {
		p.taken.Advance(p.took)
	}
	switch {
	case p.head == len(p.ready):
		p.ready, p.head = p.ready[:0], 0
	case p.head > 4096 && p.head > len(p.ready)/2:
		k := copy(p.ready, p.ready[p.head:])
		clear(p.ready[k:])
		p.ready, p.head = p.ready[:k], 0
	}
	return s, waited
}

// queued is how many turns wait for a writer.
func (p *writerPool) queued() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ready) - p.head
}

// Turns is the number of turns queued so far: once the writers took that
// many (WaitWriters), every subscriber that had deliveries queued when
// Turns was read has had its turn start, and took them.
func (h *Hub) Turns() uint64 {
	h.pool.mu.Lock()
	defer h.pool.mu.Unlock()
	return h.pool.pushed
}

// WaitTurns waits until the writers took mark turns (see Turns), or ctx
// ends: the fan-out of what was dispatched before mark was read is
// written, or being written. After close it returns at once.
func (h *Hub) WaitTurns(ctx context.Context, mark uint64) error {
	return h.pool.taken.Wait(ctx, mark)
}

// close stops the writers once the turns due are run, and waits for them.
func (p *writerPool) close() {
	p.mu.Lock()
	p.closed = true
	p.taken.Advance(^uint64(0)) // nobody waits for writers that are gone
	p.idle = 0
	p.work.Broadcast()
	p.mu.Unlock()
	p.wg.Wait()
}

// run is one writer, until the pool closes.
//
// It takes turns on a thread at the process's priority. Once the fan-out
// is bulk work (thousands of streams' turns queued, or busy bulkAfter
// without the queue running dry: writers that cannot keep up), it hands
// on to a goroutine of its own locked to a thread nice steps lower
// (Config.WriterNice), which takes turns until the queue is empty and
// hands back. Only one of the two runs at a time. So when the CPU is
// short, a write's acknowledgement goes before a long fan-out, while a
// short one (an event to a thousand streams) is written at once, not
// behind every thread its writes wake.
func (p *writerPool) run() {
	defer p.wg.Done()
	var bulk chan struct{} // to the niced goroutine: take over
	var back chan bool     // from it: the queue ran dry (false: closed)
	defer func() {
		if bulk != nil {
			close(bulk)
			<-back
		}
	}()
	for p.take(false) {
		if bulk == nil {
			bulk, back = make(chan struct{}), make(chan bool)
			go p.runBulk(bulk, back)
		}
		bulk <- struct{}{}
		if !<-back {
			return
		}
	}
}

// runBulk is a writer's niced half (see run): its thread runs below the
// rest and ends with it (the goroutine returns still locked to it).
func (p *writerPool) runBulk(bulk <-chan struct{}, back chan<- bool) {
	defer close(back)
	if err := threadprio.Lower(p.nice); err != nil && !errors.Is(err, threadprio.ErrUnsupported) {
		p.niceErr.Do(func() {
			p.h.log.Warn("stream writers' bulk work runs at the process's priority", "err", err)
		})
	}
	for range bulk {
		back <- p.take(true)
	}
}

// take runs turns. The writer's own half (bulk false) waits for turns
// when there are none and returns true once its turns are bulk work (see
// run; only if the pool has a nice to hand on to); the niced half returns
// true when the queue runs dry. Both return false once the pool is closed
// and its turns are done.
func (p *writerPool) take(bulk bool) bool {
	busy := time.Now() // when the queue last ran dry
	for turns := 1; ; turns++ {
		s, waited := p.next(!bulk)
		if s == nil {
			return bulk && waited // the niced half: dry (not closed)
		}
		if waited {
			busy, turns = time.Now(), 1 // a busy spell starts
		}
		s.turn.Store(turnRunning)
		p.turn(s)
		if !s.turn.CompareAndSwap(turnRunning, turnIdle) {
			// Woken while it ran: to the back of the line, so one busy
			// stream does not keep a writer from the others.
			s.turn.Store(turnQueued)
			p.push(s)
		}
		// A sweep over thousands of streams is back-to-back writes: let
		// the producers, the store and the dispatcher in between, so new
		// events keep coming and the next sweep carries them together.
		if turns%16 == 0 {
			runtime.Gosched()
			if !bulk && p.nice > 0 && (p.queued() >= p.bulkTurns || time.Since(busy) >= p.bulkAfter) {
				return true
			}
		}
	}
}

// turn runs s's serve function. A panic ends s (its next turn sees the
// reason and closes its stream) and is logged; the writer lives on.
func (p *writerPool) turn(s *Sub) {
	defer func() {
		if v := recover(); v != nil {
			p.h.log.Error("panic in a stream's turn; the stream is ended", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if !p.h.end(s, EndPanic) {
				s.serve.Store(nil) // it panicked ending: no more turns
			}
		}
	}()
	if fn := s.serve.Load(); fn != nil {
		(*fn)()
	}
}
