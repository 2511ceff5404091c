package clock

import (
	"testing"
	"time"
)

func fired(c <-chan time.Time) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// TestFake: timers fire when Advance passes their time, once; a ticker
// fires once however many periods passed, and again a period later;
// Stop and Reset drop a tick not taken.
func TestFake(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	tm := f.NewTimer(10 * time.Second)
	tk := f.NewTicker(time.Second)
	f.WaitArmed(2)
	steps := []struct {
		advance       time.Duration
		timer, ticker bool
	}{
		{9 * time.Second, false, true},
		{time.Second, true, true},
		{10 * time.Second, false, true}, // a timer fires once
		{500 * time.Millisecond, false, false},
		{500 * time.Millisecond, false, true},
	}
	for i, st := range steps {
		f.Advance(st.advance)
		if got := fired(tm.C()); got != st.timer {
			t.Fatalf("step %d: timer fired %v, want %v", i, got, st.timer)
		}
		if got := fired(tk.C()); got != st.ticker {
			t.Fatalf("step %d: ticker fired %v, want %v", i, got, st.ticker)
		}
	}
	tm.Reset(time.Second)
	f.Advance(time.Second)
	tm.Reset(time.Second) // drops the tick not taken
	if fired(tm.C()) {
		t.Fatal("Reset kept a stale tick")
	}
	tk.Stop()
	f.Advance(time.Hour)
	if fired(tk.C()) || !fired(tm.C()) || f.Armed() != 0 {
		t.Fatalf("the stopped ticker fired, or the timer did not, or %d still armed", f.Armed())
	}
}
