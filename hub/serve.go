package hub

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
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
	h.wake(s, lanePrompt)
}

// Kick asks for s's serve function to run even with nothing queued (a
// keepalive is due, a blocked write finished). It does nothing for a
// subscriber that is not served.
func (h *Hub) Kick(s *Sub) {
	if s.serve.Load() != nil {
		h.wake(s, int(s.lane.Load()))
	}
}

// Turn states of a served subscriber.
const (
	turnIdle    int32 = iota // not queued, not running
	turnQueued               // in the ready list
	turnRunning              // its serve function runs
	turnAgain                // runs, and was woken meanwhile: queue again after
)

// wake queues s for a turn in lane unless it is queued already; if its
// serve function is running, it runs again after (in lane).
func (h *Hub) wake(s *Sub, lane int) {
	if int(s.lane.Load()) != lane {
		s.lane.Store(int32(lane))
	}
	for {
		switch st := s.turn.Load(); st {
		case turnIdle:
			if s.turn.CompareAndSwap(turnIdle, turnQueued) {
				h.pool.push(s, lane)
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

// Turns wait in two lanes. A dispatch to a topic with more than
// defaultBulkDispatch subscribers queues their turns in the bulk lane, a
// smaller one in the prompt lane, which the writers take first: one
// tenant's event to ten thousand streams does not hold up another
// tenant's event to a few, which used to wait for the whole sweep
// (hundreds of ms, docs/benchmarks.md). A stream's first turn is prompt;
// a Kick (a keepalive, a blocked write that finished, its end) queues in
// the lane of its latest dispatch. So that bulk work never stalls behind
// a steady stream of prompt turns, a writer takes one bulk turn after
// every promptBurst prompt ones while both lanes have turns. Only bulk
// turns are lowered (see run): prompt ones run at the process's
// priority.
const (
	lanePrompt = iota
	laneBulk
	lanes

	defaultBulkDispatch = 512
	promptBurst         = 64
)

// Mark is a point in the writers' turns (Turns): how many turns each
// lane had queued.
type Mark [lanes]uint64

// turnQueue is one lane: a first-come-first-served queue of turns.
// pushed counts the turns queued, took those the writers took: every turn
// up to took was taken.
type turnQueue struct {
	ready        []*Sub
	head         int
	pushed, took uint64
	taken        seqwait.Position // took, for WaitTurns (all of them once closed)
}

func (l *turnQueue) len() int { return len(l.ready) - l.head }

// pop takes l's first turn; l has one.
func (l *turnQueue) pop(closed bool) *Sub {
	s := l.ready[l.head]
	l.ready[l.head] = nil
	l.head++
	l.took++
	if !closed {
		l.taken.Advance(l.took)
	}
	switch {
	case l.head == len(l.ready):
		l.ready, l.head = l.ready[:0], 0
	case l.head > 4096 && l.head > len(l.ready)/2:
		k := copy(l.ready, l.ready[l.head:])
		clear(l.ready[k:])
		l.ready, l.head = l.ready[:k], 0
	}
	return s
}

// writerPool runs the serve functions of subscribers with a turn due,
// first come first served within each lane (prompt before bulk), on at
// most max goroutines: one fewer than the cores (Config.Writers; at least
// one), so a core stays free for the producers, the store and the
// dispatcher that feed them; a sweep over many streams then carries every
// event that arrived meanwhile. Writers start on demand and stop at
// close, which waits for them.
type writerPool struct {
	h       *Hub
	mu      sync.Mutex
	work    sync.Cond // writers wait for turns
	lane    [lanes]turnQueue
	burst   int // prompt turns taken in a row while bulk ones waited
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
	// unlowered is set once a thread could not be lowered: the writers
	// then stop handing bulk work over (it would run at the same
	// priority, with a hand-over per spell for nothing).
	unlowered atomic.Bool
	holds     holds // requests the lowered halves step aside for (hold.go)
	closed    bool
	wg        sync.WaitGroup
}

func (p *writerPool) init(h *Hub, writers, nice int) {
	p.h = h
	p.nice = nice
	p.bulkTurns, p.bulkAfter = defaultBulkTurns, defaultBulkAfter
	p.holds.prompt, p.holds.limit = make(chan struct{}, 1), maxHold
	p.work.L = &p.mu
	if writers <= 0 {
		writers = runtime.GOMAXPROCS(0) - 1
	}
	p.max = max(1, writers)
}

// push queues a turn for s in lane. After close it does nothing.
func (p *writerPool) push(s *Sub, lane int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	l := &p.lane[lane]
	l.ready = append(l.ready, s)
	l.pushed++
	if lane == lanePrompt && p.holds.n.Load() > 0 {
		select { // a lowered half waiting on a hold hands it back (hold.go)
		case p.holds.prompt <- struct{}{}:
		default:
		}
	}
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
// true; so it does too, without wait, when a prompt turn is due (the
// lowered half hands those back). It returns nil, false once the pool is
// closed and no turn is left.
func (p *writerPool) next(wait bool) (s *Sub, waited bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	prompt, bulk := &p.lane[lanePrompt], &p.lane[laneBulk]
	for p.queuedLocked() == 0 || (!wait && prompt.len() > 0) {
		if p.closed && p.queuedLocked() == 0 {
			return nil, false
		}
		if !wait {
			// The lowered half (see run) leaves prompt turns to the
			// writer's own half, at the process's priority: it stops
			// as if the queue ran dry.
			return nil, true
		}
		waited = true
		p.idle++
		p.work.Wait()
	}
	switch {
	case bulk.len() == 0:
		p.burst = 0
		return prompt.pop(p.closed), waited
	case prompt.len() == 0 || p.burst >= promptBurst:
		p.burst = 0
		return bulk.pop(p.closed), waited
	default:
		p.burst++
		return prompt.pop(p.closed), waited
	}
}

func (p *writerPool) queuedLocked() int {
	return p.lane[lanePrompt].len() + p.lane[laneBulk].len()
}

// bulkDue reports whether a writer busy since busy should hand its turns
// to its lowered half (see run): bulk turns are queued, and bulkTurns in
// all, or it has been busy bulkAfter.
func (p *writerPool) bulkDue(busy time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lane[laneBulk].len() > 0 && (p.queuedLocked() >= p.bulkTurns || time.Since(busy) >= p.bulkAfter)
}

// Turns is the point the writers' turns are at: once they took every turn
// queued up to it (WaitTurns), every subscriber that had deliveries queued
// when Turns was read has had its turn start, and took them.
func (h *Hub) Turns() Mark {
	h.pool.mu.Lock()
	defer h.pool.mu.Unlock()
	return Mark{h.pool.lane[lanePrompt].pushed, h.pool.lane[laneBulk].pushed}
}

// WaitTurns waits until the writers took every turn queued up to mark
// (see Turns), or ctx ends: the fan-out of what was dispatched before
// mark was read is written, or being written. After close it returns at
// once.
func (h *Hub) WaitTurns(ctx context.Context, mark Mark) error {
	for i := range mark {
		if err := h.pool.lane[i].taken.Wait(ctx, mark[i]); err != nil {
			return err
		}
	}
	return nil
}

// close stops the writers once the turns due are run, and waits for them.
func (p *writerPool) close() {
	p.mu.Lock()
	p.closed = true
	for i := range p.lane {
		p.lane[i].taken.Advance(^uint64(0)) // nobody waits for writers that are gone
	}
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

// lowerThread is threadprio.Lower (tests make it fail).
var lowerThread = threadprio.Lower

// runBulk is a writer's niced half (see run): its thread runs below the
// rest and ends with it (the goroutine returns still locked to it). If
// the thread cannot be lowered, it takes the turns it was handed at the
// process's priority and the writers hand over no more.
func (p *writerPool) runBulk(bulk <-chan struct{}, back chan<- bool) {
	defer close(back)
	if err := lowerThread(p.nice); err != nil {
		p.unlowered.Store(true)
		if !errors.Is(err, threadprio.ErrUnsupported) {
			p.niceErr.Do(func() {
				p.h.log.Warn("stream writers' bulk work runs at the process's priority", "err", err)
			})
		}
	}
	for range bulk {
		back <- p.take(true)
	}
}

// take runs turns. The writer's own half (bulk false) waits for turns
// when there are none and returns true once its turns are bulk work (see
// run; only if the pool has a nice to hand on to); the niced half returns
// true when the queue runs dry or a prompt turn is due. Both return false
// once the pool is closed and its turns are done.
func (p *writerPool) take(bulk bool) bool {
	busy := time.Now() // when the queue last ran dry
	var spell holdSpell
	for turns := 1; ; turns++ {
		if bulk {
			if d := p.holds.wait(&spell); d > 0 {
				p.h.stats.HeldNanos.Add(uint64(d))
			}
		}
		s, waited := p.next(!bulk)
		if s == nil {
			return bulk && waited // the niced half: dry (not closed)
		}
		if waited {
			busy, turns = time.Now(), 1 // a busy spell starts
		}
		if bulk && !p.unlowered.Load() {
			p.h.stats.Lowered.Add(1)
		}
		s.turn.Store(turnRunning)
		p.turn(s)
		if !s.turn.CompareAndSwap(turnRunning, turnIdle) {
			// Woken while it ran: to the back of its lane, so one busy
			// stream does not keep a writer from the others.
			s.turn.Store(turnQueued)
			p.push(s, int(s.lane.Load()))
		}
		// A sweep over thousands of streams is back-to-back writes: let
		// the producers, the store and the dispatcher in between, so new
		// events keep coming and the next sweep carries them together.
		if turns%16 == 0 {
			runtime.Gosched()
			if !bulk && p.nice > 0 && !p.unlowered.Load() && p.bulkDue(busy) {
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
