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
	// Match, if set, is evaluated by the dispatcher for each delivery of a
	// subscribed topic; it must be fast and must not block.
	Match func(*Delivery) bool

	c       chan *Delivery
	done    chan struct{}
	reason  atomic.Int32
	removed atomic.Bool
	start   uint64
}

// C is the subscriber's queue.
func (s *Sub) C() <-chan *Delivery { return s.c }

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
