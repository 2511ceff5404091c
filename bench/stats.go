package bench

import (
	"math/bits"
	"slices"
	"sync/atomic"
	"time"
)

// tally accounts for the events one subscriber received (or a producer
// had acknowledged) by key: the store sequence of a herald event id, the
// publisher's counter for a peer. It keeps O(1) state whatever the number
// of events: a count, the last key, and an order-independent hash sum of
// the keys, so two tallies are equal exactly when they hold the same set
// (with overwhelming probability). A key at or below the last one is a
// duplicate (or out of order): a feed's ids strictly increase.
type tally struct {
	n    uint64 // distinct keys, in increasing order
	dup  uint64 // keys at or below the last one
	last uint64
	sum  uint64 // Σ mix(key)
}

// add counts a key received in feed order.
func (t *tally) add(key uint64) {
	if t.n > 0 && key <= t.last {
		t.dup++
		return
	}
	t.last = key
	t.n++
	t.sum += mix(key)
}

// addUnordered counts a key of the expected set, in any order (producers
// acknowledged concurrently). It does not detect duplicates.
func (t *tally) addUnordered(key uint64) {
	t.n++
	t.sum += mix(key)
	t.last = max(t.last, key)
}

// merge adds the expected keys of o (disjoint from t's).
func (t *tally) merge(o tally) {
	t.n += o.n
	t.sum += o.sum
	t.dup += o.dup
	t.last = max(t.last, o.last)
}

// mix is splitmix64's finalizer: a bijection that spreads keys, so sums
// of different sets collide only by chance (2^-64).
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// check compares what a subscriber got with what was expected and returns
// the events lost and duplicated. Got must hold only expected keys: extra
// ones count as duplicated; a set that has the right size but other keys
// counts one lost and one duplicated (it cannot say how many).
func check(want, got tally) (lost, dup uint64) {
	dup = got.dup
	switch {
	case got.n < want.n:
		lost = want.n - got.n
	case got.n > want.n:
		dup += got.n - want.n
	case got.sum != want.sum:
		lost, dup = lost+1, dup+1
	}
	return lost, dup
}

// hist is a log-linear latency histogram (relative error under 1 %) that
// many goroutines update with atomic adds; shards keep them from
// contending on one cache line.
type hist struct {
	shards [histShards]histShard
}

const (
	histShards = 16
	subBits    = 7
	subCount   = 1 << subBits
	histSize   = 65 * subCount
)

type histShard struct {
	counts [histSize]atomic.Uint64
}

func newHist() *hist { return &hist{} }

func bucketOf(v uint64) int {
	if v < subCount {
		return int(v)
	}
	e := bits.Len64(v) - subBits // ≥ 1
	return e*subCount + int(v>>uint(e-1)) - subCount
}

// bucketValue is the middle of bucket i.
func bucketValue(i int) uint64 {
	if i < subCount {
		return uint64(i)
	}
	e := i/subCount + 0
	m := uint64(i%subCount + subCount)
	lo := m << uint(e-1)
	return lo + (uint64(1)<<uint(e-1))/2
}

// add records a duration (negative ones as 0) in shard s.
func (h *hist) add(s int, d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.shards[s%histShards].counts[bucketOf(uint64(d))].Add(1)
}

// snapshot merges the shards.
func (h *hist) snapshot() []uint64 {
	out := make([]uint64, histSize)
	for s := range h.shards {
		for i := range out {
			out[i] += h.shards[s].counts[i].Load()
		}
	}
	return out
}

// quantiles returns the count and the durations at each quantile q.
func (h *hist) quantiles(qs ...float64) (n uint64, ds []time.Duration) {
	c := h.snapshot()
	for _, v := range c {
		n += v
	}
	ds = make([]time.Duration, len(qs))
	if n == 0 {
		return 0, ds
	}
	for j, q := range qs {
		rank := uint64(q*float64(n-1)) + 1
		var acc uint64
		for i, v := range c {
			acc += v
			if acc >= rank {
				ds[j] = time.Duration(bucketValue(i))
				break
			}
		}
	}
	return n, ds
}

// max returns the largest recorded duration (its bucket's middle).
func (h *hist) max() time.Duration {
	c := h.snapshot()
	for i := len(c) - 1; i >= 0; i-- {
		if c[i] > 0 {
			return time.Duration(bucketValue(i))
		}
	}
	return 0
}

// median returns the median of vs (the mean of the middle two for an
// even count); 0 for none.
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}
