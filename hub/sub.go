package hub

import (
	"sync/atomic"

	"github.com/herald-sse/herald/store"
)

// EndReason says why a subscription ended.
type EndReason int32

// Reasons a subscription ends.
const (
	EndNone EndReason = iota
	EndSlow
	EndRevoked
	EndShutdown
	EndUnsubscribed
)

func (r EndReason) String() string {
	return [...]string{"", "slow", "revoked", "shutdown", "unsubscribed"}[r]
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
}

// Sub is one subscriber: an SSE stream's handler.
type Sub struct {
	Topics []string
	Key    string // access key of the caller, for revocation
	Login  string // hash of the browser login it came with, for logout
	// Match, if set, is evaluated by the dispatcher for each delivery of a
	// subscribed topic; it must be fast and must not block.
	Match func(*Delivery) bool

	c       atomic.Pointer[chan *Delivery] // made on first use (see queue)
	qsize   int
	done    chan struct{}
	reason  atomic.Int32
	removed atomic.Bool
	start   uint64
	serve   atomic.Pointer[func()] // set by Hub.Serve
	turn    atomic.Int32           // turn state when served
	woken   atomic.Uint64          // the dispatch that woke it while its turn ran
}

// C is the subscriber's queue.
func (s *Sub) C() <-chan *Delivery { return s.queue() }

// Next takes the next queued delivery without waiting (and without making
// the queue of a subscriber that never got one).
func (s *Sub) Next() (*Delivery, bool) {
	p := s.c.Load()
	if p == nil {
		return nil, false
	}
	select {
	case d := <-*p:
		return d, true
	default:
		return nil, false
	}
}

// queue returns the subscriber's queue, making it on first use: a
// subscriber that never gets a delivery (an idle stream) costs no queue
// (a queue of 256 is 2 KiB).
func (s *Sub) queue() chan *Delivery {
	if p := s.c.Load(); p != nil {
		return *p
	}
	c := make(chan *Delivery, s.qsize)
	if s.c.CompareAndSwap(nil, &c) {
		return c
	}
	return *s.c.Load()
}

// Done is closed when the hub ended the subscription.
func (s *Sub) Done() <-chan struct{} { return s.done }

// Reason says why the subscription ended (EndNone while it runs).
func (s *Sub) Reason() EndReason { return EndReason(s.reason.Load()) }

// Start is the sequence returned by Subscribe.
func (s *Sub) Start() uint64 { return s.start }

func (s *Sub) end(r EndReason) bool {
	if !s.reason.CompareAndSwap(int32(EndNone), int32(r)) {
		return false
	}
	close(s.done)
	return true
}
