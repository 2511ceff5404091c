package hub

import (
	"sync"
	"sync/atomic"

	"github.com/herald-sse/herald/store"
)

// EndReason says why a subscription ended. Each reason is counted
// (Stats.EndedBy) and exported as herald_stream_disconnects_total{reason}.
type EndReason int32

// Reasons a subscription ends. The first reason given wins.
const (
	EndNone         EndReason = iota
	EndSlow                   // it owed more than its byte bound, or took no write for the write timeout
	EndRevoked                // its access key was revoked
	EndShutdown               // the server is stopping
	EndUnsubscribed           // its stream finished by itself (a task or job ended)
	EndClientGone             // the client closed the connection
	EndLogout                 // the login session it was opened with ended
	EndWriteError             // a write to the client failed
	EndPanic                  // the stream's code panicked (logged)
	endReasons                // number of reasons
)

var reasonNames = [endReasons]string{"", "slow", "revoked", "shutdown", "unsubscribed", "client_gone", "logout", "write_error", "panic"}

func (r EndReason) String() string {
	if r < 0 || r >= endReasons {
		return "unknown"
	}
	return reasonNames[r]
}

// EndReasons lists every reason a subscription can end for (not EndNone).
func EndReasons() []EndReason {
	rs := make([]EndReason, 0, endReasons-1)
	for r := EndNone + 1; r < endReasons; r++ {
		rs = append(rs, r)
	}
	return rs
}

// Delivery is one appended record on its way to subscribers, with each of
// its events encoded once and shared by all of them.
type Delivery struct {
	Seq    uint64
	Msg    *store.Msg
	Frames [][]byte // SSE frame of each event of the record, by index
	// Extra holds lazily built per-feed encodings (e.g. the organization
	// feed's frames); the dispatcher fills it before Dispatch when needed.
	Extra [][]byte

	size int64 // what it costs a subscriber's byte bound (see cost)
}

// deliveryOverhead is what a queued delivery is charged beyond its frames:
// its slot in the queue and its share of the record. It bounds the number
// of deliveries a byte bound admits.
const deliveryOverhead = 64

// cost is what d counts against a subscriber's byte bound: every encoding
// it carries (a feed writes one of them, so this errs on the safe side).
func (d *Delivery) cost() int64 {
	if d.size == 0 {
		n := int64(deliveryOverhead)
		for _, f := range d.Frames {
			n += int64(len(f))
		}
		for _, f := range d.Extra {
			n += int64(len(f))
		}
		d.size = n
	}
	return d.size
}

// Sub is one subscriber: an SSE stream's handler.
type Sub struct {
	Topic string // the entity, owner, domain or "*" it follows
	Key   string // access key of the caller, for revocation
	Login string // hash of the browser login it came with, for logout
	// Match, if set, is evaluated by the dispatcher for each delivery of
	// its topic; it must be fast and must not block.
	Match func(*Delivery) bool

	tpos, kpos int32 // its index among its topic's and its key's subscribers (subList)

	mu sync.Mutex // guards qu
	qu *queue     // made on the first delivery (or Ready): an idle stream holds none

	pending atomic.Int64  // bytes taken from the queue but not yet written (SetPending)
	done    chan struct{} // made by Done (under mu): a served stream never needs one
	reason  atomic.Int32
	removed atomic.Bool
	start   uint64
	serve   atomic.Pointer[func()] // set by Hub.Serve
	turn    atomic.Int32           // turn state when served
	lane    atomic.Int32           // the lane of its latest wake (see lanePrompt)
}

// queue is a subscriber's deliveries, from head on.
type queue struct {
	q      []*Delivery
	head   int
	queued int64         // bytes queued (cost of q[head:])
	ready  chan struct{} // made by Ready; signalled when the queue becomes non-empty
}

// emptied drops the taken deliveries, and a burst's large queue.
func (q *queue) emptied() {
	if cap(q.q) > maxKeptQueue {
		q.q = nil // do not keep a burst's queue on a quiet stream
	} else {
		q.q = q.q[:0]
	}
	q.head, q.queued = 0, 0
}

// push queues d unless the subscriber would then owe more than maxBytes
// (queued plus pending) or hold more than maxCount deliveries (0: no
// count bound); it reports whether d was queued.
func (s *Sub) push(d *Delivery, maxBytes int64, maxCount int) bool {
	c := d.cost()
	s.mu.Lock()
	q := s.qu
	if q == nil {
		q = &queue{}
		s.qu = q
	}
	n := len(q.q) - q.head
	pending := s.pending.Load()
	// A delivery larger than the bound still goes to a subscriber that owes
	// nothing: one big record must not end every stream that wants it.
	over := q.queued+c+pending > maxBytes && (n > 0 || pending > 0)
	if over || maxCount > 0 && n >= maxCount {
		s.mu.Unlock()
		return false
	}
	q.q = append(q.q, d)
	q.queued += c
	ready := q.ready
	s.mu.Unlock()
	if n == 0 && ready != nil {
		select {
		case ready <- struct{}{}:
		default:
		}
	}
	return true
}

// Next takes the next queued delivery without waiting.
func (s *Sub) Next() (*Delivery, bool) {
	s.mu.Lock()
	q := s.qu
	if q == nil || q.head == len(q.q) {
		s.mu.Unlock()
		return nil, false
	}
	d := q.q[q.head]
	q.q[q.head] = nil
	q.head++
	q.queued -= d.size
	if q.head == len(q.q) {
		q.emptied()
	}
	s.mu.Unlock()
	return d, true
}

// Take appends every queued delivery to buf, in order, and returns it:
// one lock for a whole backlog (a burst), where Next takes one.
func (s *Sub) Take(buf []*Delivery) []*Delivery {
	s.mu.Lock()
	if q := s.qu; q != nil && q.head < len(q.q) {
		buf = append(buf, q.q[q.head:]...)
		clear(q.q[q.head:])
		q.emptied()
	}
	s.mu.Unlock()
	return buf
}

// maxKeptQueue is the largest queue (in slots) an emptied subscriber keeps.
const maxKeptQueue = 256

// Queued reports how many deliveries and bytes are queued.
func (s *Sub) Queued() (n int, bytes int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.qu == nil {
		return 0, 0
	}
	return len(s.qu.q) - s.qu.head, s.qu.queued
}

// Ready returns a channel that receives when deliveries are queued, for a
// subscriber drained by a goroutine of its own: wait on it, then take
// everything with Take or Next. It is made on first use and receives at
// once if deliveries are queued already.
func (s *Sub) Ready() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.qu == nil {
		s.qu = &queue{}
	}
	q := s.qu
	if q.ready == nil {
		q.ready = make(chan struct{}, 1)
		if q.head < len(q.q) {
			q.ready <- struct{}{}
		}
	}
	return q.ready
}

// SetPending records how many bytes the subscriber's stream took from the
// queue and has not written yet (a write the client has not taken): they
// count against its byte bound with what is queued.
func (s *Sub) SetPending(n int) { s.pending.Store(int64(n)) }

// Done is closed when the hub ended the subscription. It is made on first
// use: a subscriber drained by the hub's writers (Serve) checks Reason
// instead, and an idle stream thus holds no channel.
func (s *Sub) Done() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done == nil {
		if s.Reason() != EndNone {
			return closedDone
		}
		s.done = make(chan struct{})
	}
	return s.done
}

// closedDone is Done's answer once the subscription ended without one.
var closedDone = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// Reason says why the subscription ended (EndNone while it runs).
func (s *Sub) Reason() EndReason { return EndReason(s.reason.Load()) }

// Start is the sequence returned by Subscribe.
func (s *Sub) Start() uint64 { return s.start }

func (s *Sub) end(r EndReason) bool {
	if !s.reason.CompareAndSwap(int32(EndNone), int32(r)) {
		return false
	}
	// Done checks the reason under mu: it either made the channel before
	// the reason was set (closed here) or returns closedDone.
	s.mu.Lock()
	if s.done != nil {
		close(s.done)
	}
	s.mu.Unlock()
	return true
}
