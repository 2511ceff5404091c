package views

import "time"

// DefaultIdempotencyBytes is the default bound of the Idempotency-Key
// index: 32 MiB, about 240,000 keyed writes.
const DefaultIdempotencyBytes = 32 << 20

// idemEntryCost is what one remembered key costs besides its text: the
// map's key and value, its share of the map's buckets, and its place in
// the eviction queue (measured by TestIdempotencyIndexBounded).
const idemEntryCost = 106

// idemIndex remembers where each keyed write landed (msg id → sequence),
// oldest first, within a byte bound: past it the oldest keys are forgotten
// (a retry of one of those within the store's duplicate window is still
// caught by JetStream; after it, it is a new write). Guarded by Views.mu.
type idemIndex struct {
	seqs     map[string]uint64
	queue    []idemQueued // insertion order; queue[head:] are live
	head     int
	bytes    int64
	maxBytes int64 // <= 0: no bound
}

type idemQueued struct {
	key string
	at  int64 // unix nanoseconds of the record
}

func newIdemIndex(maxBytes int64) idemIndex {
	return idemIndex{seqs: map[string]uint64{}, maxBytes: maxBytes}
}

func idemCost(key string) int64 { return int64(len(key)) + idemEntryCost }

// add remembers key's first write; later writes with it change nothing.
func (x *idemIndex) add(key string, seq uint64, at time.Time) {
	if _, ok := x.seqs[key]; ok {
		return
	}
	x.seqs[key] = seq
	x.queue = append(x.queue, idemQueued{key: key, at: at.UnixNano()})
	x.bytes += idemCost(key)
	for x.maxBytes > 0 && x.bytes > x.maxBytes && x.head < len(x.queue) {
		x.pop()
	}
}

// expire forgets keys written before cutoff.
func (x *idemIndex) expire(cutoff time.Time) {
	c := cutoff.UnixNano()
	for x.head < len(x.queue) && x.queue[x.head].at < c {
		x.pop()
	}
}

// pop forgets the oldest key.
func (x *idemIndex) pop() {
	q := x.queue[x.head]
	x.queue[x.head] = idemQueued{}
	x.head++
	delete(x.seqs, q.key)
	x.bytes -= idemCost(q.key)
	if x.head >= 1024 && x.head*2 >= len(x.queue) {
		n := copy(x.queue, x.queue[x.head:])
		clear(x.queue[n:])
		x.queue = x.queue[:n]
		x.head = 0
	}
	if len(x.seqs) == 0 {
		// A map never shrinks: start a new one once it is empty.
		x.seqs = map[string]uint64{}
		x.queue, x.head = nil, 0
	}
}

// SetIdempotencyBytes bounds the Idempotency-Key index (<= 0: no bound).
// Call it before the views are used.
func (v *Views) SetIdempotencyBytes(maxBytes int64) {
	v.mu.Lock()
	v.idem.maxBytes = maxBytes
	v.mu.Unlock()
}

// IdempotencySize returns how many Idempotency-Keys are remembered and
// their estimated memory.
func (v *Views) IdempotencySize() (keys int, bytes int64) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return len(v.idem.seqs), v.idem.bytes
}
