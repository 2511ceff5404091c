package clock

import (
	"sync"
	"time"
)

// Fake is a clock that moves only on Advance; its timers and tickers fire
// then, as real ones would (a ticker that missed several ticks fires once,
// like time.Ticker).
type Fake struct {
	mu      sync.Mutex
	changed sync.Cond
	now     time.Time
	timers  map[*fakeTimer]struct{} // armed timers and tickers
}

var _ Clock = (*Fake)(nil)

// NewFake returns a fake clock reading start.
func NewFake(start time.Time) *Fake {
	f := &Fake{now: start, timers: map[*fakeTimer]struct{}{}}
	f.changed.L = &f.mu
	return f
}

// Now is the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Advance moves the time on by d and fires what fell due.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	for t := range f.timers {
		if t.when.After(f.now) {
			continue
		}
		select {
		case t.c <- f.now:
		default:
		}
		if t.period > 0 {
			for !t.when.After(f.now) {
				t.when = t.when.Add(t.period)
			}
		} else {
			delete(f.timers, t)
		}
	}
}

// WaitArmed blocks until at least n timers or tickers are armed: the code
// under test has set up what the next Advance is to fire.
func (f *Fake) WaitArmed(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for len(f.timers) < n {
		f.changed.Wait()
	}
}

// Armed is how many timers and tickers are armed.
func (f *Fake) Armed() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}

// NewTimer returns a timer firing d after the fake now.
func (f *Fake) NewTimer(d time.Duration) Timer { return f.arm(d, 0) }

// NewTicker returns a ticker firing every d of fake time.
func (f *Fake) NewTicker(d time.Duration) Ticker { return fakeTicker{f.arm(d, d)} }

type fakeTicker struct{ t *fakeTimer }

func (k fakeTicker) C() <-chan time.Time { return k.t.c }
func (k fakeTicker) Stop()               { k.t.Stop() }

func (f *Fake) arm(d, period time.Duration) *fakeTimer {
	t := &fakeTimer{f: f, c: make(chan time.Time, 1), period: period}
	f.mu.Lock()
	t.when = f.now.Add(d)
	f.timers[t] = struct{}{}
	f.changed.Broadcast()
	f.mu.Unlock()
	return t
}

type fakeTimer struct {
	f      *Fake
	c      chan time.Time
	when   time.Time
	period time.Duration
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

// Stop disarms the timer and drops a tick not yet received (as timers do
// since Go 1.23).
func (t *fakeTimer) Stop() bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	_, armed := t.f.timers[t]
	delete(t.f.timers, t)
	t.drain()
	return armed
}

// Reset re-arms the timer d after the fake now.
func (t *fakeTimer) Reset(d time.Duration) bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	_, armed := t.f.timers[t]
	t.drain()
	t.when = t.f.now.Add(d)
	t.f.timers[t] = struct{}{}
	t.f.changed.Broadcast()
	return armed
}

func (t *fakeTimer) drain() {
	select {
	case <-t.c:
	default:
	}
}
