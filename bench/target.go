package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// target is the server under load: herald (a process the bench started,
// or --target) or a peer (nchan, Centrifugo) for comparison.
type target interface {
	// name is "herald" or the peer's name.
	name() string
	// addr is host:port of the server.
	addr() string
	// usage reads the server's CPU and memory.
	usage() usage
	// feedRequest is the GET of the feed fanout and idle subscribe to;
	// lastID resumes after that event.
	feedRequest(lastID string) []byte
	// feedHTTP is the same feed for an HTTP client: the request path
	// and the bearer token ("" for none).
	feedHTTP() (path, token string)
	// key returns the accounting key of a received event: herald's store
	// sequence (from the id), the publisher's counter for a peer.
	key(id, data []byte) (uint64, bool)
	// wrapping is how the server wraps its feed's events in messages of
	// its own protocol (Centrifugo), nil when it sends them as they are.
	wrapping() wrapper
	// publisher returns producer number i, with its own connection.
	publisher(i int) publisher
	close()
}

// wrapper reads a server's own protocol inside its SSE events.
type wrapper interface {
	// frame says what a received event is to the subscriber.
	frame(data []byte) frameKind
	// payload is the feed event inside decoded data v (nil if none).
	payload(v any) any
}

// frameKind is what a received SSE event is, for a wrapping server.
type frameKind int

const (
	// frameEvent is an event of the feed.
	frameEvent frameKind = iota
	// framePing is the server's keepalive, sent as an event.
	framePing
	// frameOther is another message of the server's protocol (a connect
	// reply, …): not counted.
	frameOther
)

// publisher sends events one at a time.
type publisher interface {
	// publish sends one event carrying sentNs (the send time in ns since
	// the Unix epoch) and returns its accounting key once acknowledged.
	publish(sentNs int64) (key uint64, err error)
	close()
}

// sentAt returns the send time carried in an event's data ("reason").
func sentAt(data []byte) (int64, bool) {
	v, ok := jsonUint(data, "reason")
	return int64(v), ok
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// heraldTarget is a herald server: one group and one owner key made for
// the run; events are session lifecycle reports of that owner, published
// by service keys (one per publisher); the feed is the session feed of that owner, watched
// by the superadmin (GET /events/session?sessionId=*&ownerAccessKey=…).
type heraldTarget struct {
	base    string // http://host:port
	host    string
	super   string // superadmin token
	service string // producer token of publisher 0
	owner   string // access key owning the sessions
	group   string
	domain  string // domain of group, owner and service keys
	use     usage
	srv     *server // nil with --target
	d       dialer
	epoch   atomic.Value // string: the store epoch, from the first answer
}

// openHerald starts a herald process (o.Target empty) or uses o.Target,
// and creates the run's group and keys.
func openHerald(ctx context.Context, o *Options, keepalive time.Duration) (*heraldTarget, error) {
	t := &heraldTarget{base: strings.TrimRight(o.Target, "/"), super: o.Token, d: dialer{o.Sources}}
	if t.base == "" {
		bin := o.Binary
		if bin == "" {
			var err error
			if bin, err = os.Executable(); err != nil {
				return nil, err
			}
		}
		t.super = randomToken()
		srv, err := startHerald(ctx, bin, t.super, keepalive, o.ServerArgs, o.ServerEnv, o.serverCPUs)
		if err != nil {
			return nil, err
		}
		t.srv, t.base = srv, srv.url
		t.use = pidUsage{pids: func() []int { return []int{srv.pid()} }, name: "herald pid " + strconv.Itoa(srv.pid())}
	} else if o.Token == "" {
		return nil, fmt.Errorf("--target %s needs --token (a superadmin token) to create the run's keys", o.Target)
	}
	if t.use == nil {
		switch {
		case o.ServerPID > 0:
			pid := o.ServerPID
			t.use = pidUsage{pids: func() []int { return []int{pid} }, name: "pid " + strconv.Itoa(pid)}
		default:
			t.use = metricsUsage{url: t.base}
		}
	}
	u, err := url.Parse(t.base)
	if err != nil || u.Host == "" {
		t.close()
		return nil, fmt.Errorf("target %q: want http://host:port", t.base)
	}
	if u.Scheme != "http" {
		t.close()
		return nil, fmt.Errorf("target %q: only plain http is supported by the raw load generator", t.base)
	}
	t.host = u.Host
	if err := t.setup(ctx); err != nil {
		t.close()
		return nil, err
	}
	return t, nil
}

func (t *heraldTarget) setup(ctx context.Context) error { return t.setupIn(ctx, "default") }

// setupIn creates the run's group, owner key and service key in domain.
func (t *heraldTarget) setupIn(ctx context.Context, domain string) error {
	t.group, t.domain = "bench-"+randomHex(4), domain
	if err := apiCall(ctx, t.base, t.super, "POST", "/v1/admin/domains/"+domain+"/groups", map[string]string{"name": t.group}, nil); err != nil {
		return fmt.Errorf("create group: %w", err)
	}
	var owner, service struct {
		AccessKey string `json:"accessKey"`
		Token     string `json:"token"`
	}
	if err := apiCall(ctx, t.base, t.super, "POST", "/v1/admin/keys",
		map[string]any{"role": "user", "domain": domain, "groups": []string{t.group}}, &owner); err != nil {
		return fmt.Errorf("create owner key: %w", err)
	}
	if err := apiCall(ctx, t.base, t.super, "POST", "/v1/admin/keys",
		map[string]any{"role": "service", "domain": domain}, &service); err != nil {
		return fmt.Errorf("create service key: %w", err)
	}
	t.owner, t.service = owner.AccessKey, service.Token
	return nil
}

// tenant creates a new domain (name plus a random suffix) on t's server
// with its own group, owner key and service key, and returns it as a
// target: the same server, that domain's feed and producers. Closing the
// tenant leaves the server running.
func (t *heraldTarget) tenant(ctx context.Context, name string) (*heraldTarget, error) {
	domain := name + "-" + randomHex(4)
	if err := apiCall(ctx, t.base, t.super, "POST", "/v1/admin/domains", map[string]string{"name": domain}, nil); err != nil {
		return nil, fmt.Errorf("create domain %s: %w", domain, err)
	}
	n := &heraldTarget{base: t.base, host: t.host, super: t.super, use: t.use, d: t.d}
	if err := n.setupIn(ctx, domain); err != nil {
		return nil, fmt.Errorf("domain %s: %w", domain, err)
	}
	return n, nil
}

func (t *heraldTarget) name() string { return "herald" }
func (t *heraldTarget) addr() string { return t.host }
func (t *heraldTarget) usage() usage { return t.use }

func (t *heraldTarget) feedPath() string {
	return "/events/session?sessionId=*&ownerAccessKey=" + url.QueryEscape(t.owner)
}

func (t *heraldTarget) feedRequest(lastID string) []byte {
	return sseRequest(t.host, t.feedPath(), t.super, lastID)
}

func (t *heraldTarget) feedHTTP() (string, string) { return t.feedPath(), t.super }

func (t *heraldTarget) key(id, _ []byte) (uint64, bool) { return heraldSeq(id) }

func (t *heraldTarget) wrapping() wrapper { return nil }

func (t *heraldTarget) close() {
	if t.srv != nil {
		t.srv.stop()
	}
}

// sessionCycle is the lifecycle a producer walks through on its session,
// over and over (after session_terminated the id starts a new instance).
var sessionCycle = []string{"session_enqueued", "session_preparing", "session_creating", "session_started", "session_terminated"}

// heraldPublisher reports the lifecycle of one session of the owner.
type heraldPublisher struct {
	t    *heraldTarget
	h    *rawHTTP
	sid  string
	step int
	body []byte
	err  error // making its key failed: every publish fails with it
}

// publisher returns publisher i. Each writes with a service key of its
// own, as a fleet of producers would, so a run's writes spread over keys
// and stay under herald's per-key write rate (--rate-writes).
func (t *heraldTarget) publisher(i int) publisher {
	token, err := t.serviceKey(i)
	return &heraldPublisher{t: t, h: newRawHTTP(t.d, t.host, token, i), err: err,
		sid: "bench-" + strconv.Itoa(i) + "-" + randomHex(3)}
}

// serviceKey is the token of publisher i's service key: the run's first
// one for publisher 0, a new one for the others.
func (t *heraldTarget) serviceKey(i int) (string, error) {
	if i == 0 {
		return t.service, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var k struct {
		Token string `json:"token"`
	}
	if err := apiCall(ctx, t.base, t.super, "POST", "/v1/admin/keys",
		map[string]any{"role": "service", "domain": t.domain}, &k); err != nil {
		return "", fmt.Errorf("create the service key of publisher %d: %w", i, err)
	}
	return k.Token, nil
}

func (p *heraldPublisher) publish(sentNs int64) (uint64, error) {
	if p.err != nil {
		return 0, p.err
	}
	ev := sessionCycle[p.step%len(sessionCycle)]
	b := p.body[:0]
	b = append(b, `{"sessionId":"`...)
	b = append(b, p.sid...)
	b = append(b, `","ownerAccessKey":"`...)
	b = append(b, p.t.owner...)
	b = append(b, `","group":"`...)
	b = append(b, p.t.group...)
	b = append(b, `","event":"`...)
	b = append(b, ev...)
	b = append(b, `","reason":"`...)
	b = strconv.AppendInt(b, sentNs, 10)
	b = append(b, '"')
	if ev == "session_terminated" {
		b = append(b, `,"result":"SUCCESS"`...)
	}
	b = append(b, '}')
	p.body = b
	st, resp, err := p.h.do("POST", "/v1/sessions/events", "application/json", b)
	if err != nil {
		return 0, err
	}
	if st != 201 {
		return 0, fmt.Errorf("POST /v1/sessions/events: %d %s", st, bytes.TrimSpace(resp))
	}
	p.step++
	i := bytes.Index(resp, []byte(`"id":"`))
	if i < 0 {
		return 0, fmt.Errorf("answer without an id: %s", resp)
	}
	id := resp[i+6:]
	if j := bytes.IndexByte(id, '"'); j >= 0 {
		id = id[:j]
	}
	seq, ok := heraldSeq(id)
	if !ok {
		return 0, fmt.Errorf("answer with a bad id: %s", resp)
	}
	if p.t.epoch.Load() == nil {
		p.t.epoch.Store(string(id[:bytes.LastIndexByte(id, '-')]))
	}
	return seq, nil
}

func (p *heraldPublisher) close() { p.h.Close() }

// eventID is the wire id of the event with store sequence seq, for
// Last-Event-ID (known once something was published).
func (t *heraldTarget) eventID(seq uint64) string {
	e, _ := t.epoch.Load().(string)
	return e + "-" + itoa(seq)
}

// counter hands out the peers' event keys.
type counter struct{ n atomic.Uint64 }

func (c *counter) next() uint64 { return c.n.Add(1) }
