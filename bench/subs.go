package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// subPool is a set of SSE subscribers on one target's feed, each a
// goroutine reading its own TCP connection, with the pool's client
// (Options.Client). A subscriber whose stream ends reconnects with
// Last-Event-ID (as a browser would) and counts a reconnect; the tally
// then shows whether the resume lost or repeated anything.
type subPool struct {
	tgt      target
	wrap     wrapper // tgt.wrapping()
	d        dialer
	bufSize  int
	client   string               // ClientDecode, ClientFast or ClientGoSSE
	decode   bool                 // subscribers decode each event's data as JSON
	lat      atomic.Pointer[hist] // publish→receive latency (nil: not measured)
	ka       *hist                // keepalive lateness: interval minus kaPeriod (nil: not measured)
	kaEarly  atomic.Uint64        // keepalives more than a tenth of kaPeriod early
	kaPeriod time.Duration
	subs     []*sub
	closing  atomic.Bool
	wg       sync.WaitGroup
	// maxReconnects bounds each subscriber's reconnections.
	maxReconnects int
	// goal, when set, is an event count: each subscriber notes when it
	// has received that many (doneAt).
	goal uint64
	// startID is the Last-Event-ID subscribers first connect with.
	startID string

	// reads counts the subscribers' reads that returned data (sharded).
	reads [histShards]paddedCounter

	// go-sse: the HTTP client of every subscriber, and the context that
	// ends their connections.
	hc     *http.Client
	ctx    context.Context
	cancel context.CancelFunc
}

type paddedCounter struct {
	n atomic.Uint64
	_ [56]byte
}

// countRead counts one read that returned data, by subscriber or
// connection i.
func (p *subPool) countRead(i int) { p.reads[i%histShards].n.Add(1) }

// readCount is the reads that returned data so far.
func (p *subPool) readCount() uint64 {
	var n uint64
	for i := range p.reads {
		n += p.reads[i].n.Load()
	}
	return n
}

// sub is one subscriber. Its tally, lastID and decode counts are written
// only by its goroutine; read them after pool.close.
type sub struct {
	p           *subPool
	i           int
	conn        atomic.Pointer[sseConn] // the raw readers' connection
	t           tally
	bad         uint64 // events without a key
	undecodable uint64 // events whose data is not JSON
	decodeErr   error  // the first decoding error
	lastID      []byte
	got         atomic.Uint64 // events received
	comments    atomic.Uint64 // keepalive comments received
	lastRecv    atomic.Int64  // unix ns of the last event
	doneAt      atomic.Int64  // unix ns when got reached the pool's goal
	reconnects  atomic.Uint64
	failed      atomic.Bool // gave up reconnecting
	lastKA      time.Time
	pings       uint64 // keepalives received as events (wrapping servers)
	err         error
}

// newSubPool makes a pool of o's client (o.Sources, o.Client; o's
// defaults applied) on tgt's feed; bufSize is the raw readers' read
// buffer.
func newSubPool(tgt target, o *Options, bufSize int) *subPool {
	client := o.Client
	if client == "" {
		client = ClientDecode
	}
	p := &subPool{tgt: tgt, wrap: tgt.wrapping(), d: dialer{o.Sources}, bufSize: bufSize, client: client,
		decode: client != ClientFast, maxReconnects: 20}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	if client == ClientGoSSE {
		p.hc = newHTTPClient(p.d, &p.reads)
	}
	return p
}

// onEvent is the raw readers' callback: the scanner's id and data.
func (s *sub) onEvent(_, id, data []byte) { s.event(id, data) }

// event handles one received event. With a decoding client its data is
// decoded as JSON into a generic value, as a page does with what its
// EventSource hands it, and the send time (latency) is read from that
// value; the accounting key is the target's (the event id or the data's
// counter). An event whose data is not JSON is counted (undecodable) and
// still accounted for: it was delivered.
//
// With a server that wraps its feed's events in its own protocol
// (Centrifugo), its pings count as keepalives, its other messages are
// passed over, and the send time is read from the event inside.
func (s *sub) event(id, data []byte) {
	if w := s.p.wrap; w != nil {
		switch w.frame(data) {
		case framePing:
			s.ping()
			return
		case frameOther:
			return
		}
	}
	var sent int64
	var timed bool
	if s.p.decode {
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			s.undecodable++
			if s.decodeErr == nil {
				s.decodeErr = fmt.Errorf("event %q: data %.80q is not JSON: %w", id, data, err)
			}
		} else {
			if s.p.wrap != nil {
				v = s.p.wrap.payload(v)
			}
			sent, timed = sentFrom(v)
		}
	}
	now := time.Now()
	key, ok := s.p.tgt.key(id, data)
	if !ok {
		s.bad++
		return
	}
	s.t.add(key)
	if h := s.p.lat.Load(); h != nil {
		if !s.p.decode {
			sent, timed = sentAt(data)
		}
		if timed {
			h.add(s.i, time.Duration(now.UnixNano()-sent))
		}
	}
	if len(id) > 0 {
		s.lastID = append(s.lastID[:0], id...)
	}
	s.lastRecv.Store(now.UnixNano())
	if s.got.Add(1) == s.p.goal {
		s.doneAt.Store(now.UnixNano())
	}
}

// sentFrom returns the send time carried in a decoded event's "reason"
// (a string of ns since the Unix epoch).
func sentFrom(v any) (int64, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return 0, false
	}
	r, ok := m["reason"].(string)
	if !ok {
		return 0, false
	}
	ns, err := strconv.ParseInt(r, 10, 64)
	return ns, err == nil
}

func (s *sub) onComment(text []byte) {
	if !bytes.Equal(bytes.TrimSpace(text), []byte("keepalive")) {
		return
	}
	s.keepalive(true)
}

// ping is a keepalive the server sent as an event. Centrifugo sends a
// connection's first ping at a random time between half the interval and
// the interval (to spread pings out): the first is counted, not timed.
func (s *sub) ping() {
	s.pings++
	s.keepalive(s.pings > 1)
}

// keepalive counts a keepalive and, when timed, how late it came after
// the previous one (or the stream's start).
func (s *sub) keepalive(timed bool) {
	now := time.Now()
	if s.p.ka != nil && timed {
		late := now.Sub(s.lastKA) - s.p.kaPeriod
		if late < -s.p.kaPeriod/10 {
			s.p.kaEarly.Add(1)
		}
		s.p.ka.add(s.i, late) // early ones count as 0
	}
	s.lastKA = now
	s.comments.Add(1)
}

func (s *sub) scanner() sseScanner {
	return sseScanner{onEvent: s.onEvent, onComment: s.onComment}
}

// seesKeepalives reports whether the pool's client sees the server's
// keepalives: go-sse's parser drops comments (herald's and nchan's
// keepalives), not events (Centrifugo's pings).
func (p *subPool) seesKeepalives() bool { return p.client != ClientGoSSE || p.wrap != nil }

// open connects n subscribers, conc at a time, and starts their readers.
func (p *subPool) open(ctx context.Context, n, conc int, prog Progress) error {
	bar := prog.Phase("connecting subscribers", int64(n))
	defer bar.Done()
	base := len(p.subs)
	for i := range n {
		p.subs = append(p.subs, &sub{p: p, i: base + i})
	}
	next := make(chan *sub)
	errc := make(chan error, conc)
	var opened atomic.Int64
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for s := range next {
				s.lastID = append(s.lastID[:0], p.startID...)
				if err := s.start(ctx); err != nil {
					select {
					case errc <- fmt.Errorf("subscriber %d: %w", s.i, err):
					default:
					}
					continue
				}
				opened.Add(1)
			}
		})
	}
	var err error
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
feed:
	for _, s := range p.subs[base:] {
		for {
			select {
			case next <- s:
				continue feed
			case err = <-errc:
				break feed
			case <-ctx.Done():
				err = ctx.Err()
				break feed
			case <-tick.C:
				bar.Set(opened.Load())
			}
		}
	}
	close(next)
	wg.Wait()
	bar.Set(opened.Load())
	if err == nil {
		select {
		case err = <-errc:
		default:
		}
	}
	return err
}

// start connects the subscriber (the response's headers have come when it
// returns nil) and starts its reader.
func (s *sub) start(ctx context.Context) error {
	if s.p.client == ClientGoSSE {
		return s.startGoSSE(ctx)
	}
	c, err := openSSE(s.p.d, s.p.tgt.addr(), s.i, s.p.tgt.feedRequest(s.p.startID), s.p.bufSize, s.scanner())
	if err != nil {
		return err
	}
	c.reads = &s.p.reads[s.i%histShards].n
	s.conn.Store(c)
	s.lastKA = c.opened
	s.p.wg.Add(1)
	go s.loop()
	return nil
}

// loop is a raw reader: it reads the subscriber's stream; when it ends it
// reconnects with Last-Event-ID.
func (s *sub) loop() {
	defer s.p.wg.Done()
	for {
		conn := s.conn.Load()
		err := conn.run()
		conn.c.Close()
		if s.p.closing.Load() {
			return
		}
		for {
			if int(s.reconnects.Load()) >= s.p.maxReconnects {
				s.err = fmt.Errorf("stream ended (%v); gave up after %d reconnects", err, s.reconnects.Load())
				s.failed.Store(true)
				return
			}
			s.reconnects.Add(1)
			c, derr := openSSE(s.p.d, s.p.tgt.addr(), s.i, s.p.tgt.feedRequest(string(s.lastID)), s.p.bufSize, s.scanner())
			if derr == nil {
				c.reads = &s.p.reads[s.i%histShards].n
				s.conn.Store(c)
				if s.p.closing.Load() {
					c.c.Close()
					return
				}
				break
			}
			err = derr
			if s.p.closing.Load() {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// received sums the events the subscribers received.
func (p *subPool) received() uint64 {
	var n uint64
	for _, s := range p.subs {
		n += s.got.Load()
	}
	return n
}

// waitAll waits until every subscriber received at least want events (or
// gave up), the timeout passes or ctx ends; it reports progress.
func (p *subPool) waitAll(ctx context.Context, want uint64, timeout time.Duration, bar Bar) bool {
	deadline := time.Now().Add(timeout)
	total := want * uint64(len(p.subs))
	for {
		done := true
		var n uint64
		for _, s := range p.subs {
			g := s.got.Load()
			n += min(g, want)
			if g < want && !s.failed.Load() {
				done = false
			}
		}
		if bar != nil {
			bar.Set(int64(n))
		}
		if done || n >= total {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lastReceive is the latest time any subscriber received an event.
func (p *subPool) lastReceive() time.Time {
	var t int64
	for _, s := range p.subs {
		t = max(t, s.lastRecv.Load())
	}
	return time.Unix(0, t)
}

// close ends every subscriber and waits for their readers.
func (p *subPool) close() {
	p.closing.Store(true)
	p.cancel()
	for _, s := range p.subs {
		if c := s.conn.Load(); c != nil {
			c.c.Close()
		}
	}
	p.wg.Wait()
	if p.hc != nil {
		p.hc.CloseIdleConnections()
	}
}

// account compares every subscriber's tally with want (after close).
// It returns the events lost, duplicated and undecodable over all
// subscribers, the reconnects, and the first subscriber error and
// decoding error.
func (p *subPool) account(want tally) (a accounting, err, decodeErr error) {
	a.decoded = p.decode
	for _, s := range p.subs {
		l, d := check(want, s.t)
		a.lost += l
		a.dup += d + s.bad
		a.undecodable += s.undecodable
		a.reconnects += s.reconnects.Load()
		if err == nil && s.err != nil {
			err = fmt.Errorf("subscriber %d: %w", s.i, s.err)
		}
		if decodeErr == nil && s.decodeErr != nil {
			decodeErr = fmt.Errorf("subscriber %d: %w", s.i, s.decodeErr)
		}
	}
	return a, err, decodeErr
}

// accounting is what a pool received against what was acknowledged.
type accounting struct {
	lost, dup, undecodable, reconnects uint64
	decoded                            bool // the subscribers decoded the events' data
}

// plus is the accounting of two pools together.
func (a accounting) plus(b accounting) accounting {
	return accounting{a.lost + b.lost, a.dup + b.dup, a.undecodable + b.undecodable,
		a.reconnects + b.reconnects, a.decoded || b.decoded}
}

// account checks what p received against want and records it on r: lost
// and duplicated events (added to r's, so a scenario with several pools
// accounts for each), a note (late) when not everything arrived in time
// (!complete), and the first subscriber error.
//
// It records the pool's client in r's params ("client"), so a table says
// which instrument produced it.
func (r *Result) account(p *subPool, want tally, complete bool, late string) accounting {
	a, err, decodeErr := p.account(want)
	r.Lost += a.lost
	r.Duplicated += a.dup
	r.Undecodable += a.undecodable
	if r.Params == nil {
		r.Params = map[string]string{}
	}
	r.Params["client"] = ClientLabel(p.client)
	if !complete {
		r.Notes = append(r.Notes, late)
	}
	if err != nil {
		r.Notes = append(r.Notes, err.Error())
	}
	if decodeErr != nil {
		r.Notes = append(r.Notes, decodeErr.Error())
	}
	return a
}

// addCounts adds the accounting's rows to the table (after the scenario's
// own figures).
func (r *Result) addCounts(a accounting) {
	r.addCount("reconnects", float64(a.reconnects))
	r.addCount("lost", float64(a.lost))
	r.addCount("duplicated", float64(a.dup))
	if a.decoded {
		r.addCount("undecodable", float64(a.undecodable))
	}
}
