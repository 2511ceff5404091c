package bench

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// centrifugoTarget is Centrifugo (scripts/centrifugo/run.sh) the way its
// documentation has a browser receive a server's events without an SDK:
// subscribers open the unidirectional SSE transport,
// GET /connection/uni_sse?cf_connect={"token":JWT}, whose connection JWT
// (HS256, signed with the run's HMAC secret) subscribes them to the run's
// channel on the server side ("channels" claim); events are published
// with the server HTTP API, POST /api/publish with the run's API key.
//
// Centrifugo wraps each publication in its own JSON envelope,
// {"channel":…,"pub":{"data":EVENT,"offset":…}}, and sends its connect
// reply ({"connect":…}) and pings ({}) as events too: the subscribers
// unwrap the publications (centrifugoWrap) and take the pings as
// keepalives. EVENT mirrors herald's session event and adds "seq", the
// publisher's counter, the accounting key (as for nchan).
type centrifugoTarget struct {
	host    string
	channel string
	token   string // the subscribers' connection JWT
	apiKey  string
	use     usage
	peerProcess
	d   dialer
	seq counter
}

// openCentrifugo starts scripts/centrifugo/run.sh on a free loopback port
// with a fresh HMAC secret and API key.
func openCentrifugo(ctx context.Context, o *Options, keepalive time.Duration) (*centrifugoTarget, error) {
	if o.Target != "" {
		return nil, errors.New("--peer centrifugo starts its own Centrifugo (its secrets are made per run): --target is not supported")
	}
	secret := randomHex(32)
	t := &centrifugoTarget{channel: "bench-" + randomHex(6), apiKey: randomHex(16), d: dialer{o.Sources}}
	t.token = hs256JWT(secret, map[string]any{"sub": "bench", "channels": []string{t.channel}})
	script := o.CentrifugoScript
	if script == "" {
		script = "scripts/centrifugo/run.sh"
	}
	var stderr tailBuffer
	var w io.Writer = &stderr
	if o.Verbose != nil {
		w = teeWriter{o.Verbose, &stderr}
	}
	// Centrifugo's ping interval is whole seconds here (its connect reply
	// states it in seconds).
	ka := max(int((keepalive+time.Second/2)/time.Second), 1)
	host, err := t.start("centrifugo", script, w, func(port int, prefix string) []string {
		args := []string{"--port", strconv.Itoa(port), "--keepalive", strconv.Itoa(ka),
			"--prefix", prefix, "--secret", secret, "--api-key", t.apiKey}
		if o.CentrifugoBinary != "" {
			args = append(args, "--bin", o.CentrifugoBinary)
		}
		return args
	})
	if err != nil {
		return nil, err
	}
	t.host = host
	pid := t.cmd.Process.Pid // the script execs centrifugo
	t.use = pidUsage{pids: func() []int { return []int{pid} }, name: "centrifugo pid " + strconv.Itoa(pid)}
	// The script may build Centrifugo first (scripts/centrifugo/build.sh):
	// allow for it.
	deadline := time.Now().Add(15 * time.Minute)
	for !centrifugoUp(t.host, pid) {
		select {
		case <-t.done:
			os.RemoveAll(t.prefix)
			return nil, fmt.Errorf("centrifugo: %s exited: %s", script, strings.TrimSpace(stderr.String()))
		case <-ctx.Done():
			t.close()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.close()
			return nil, fmt.Errorf("centrifugo: not listening on %s after 15 minutes", t.host)
		}
	}
	return t, nil
}

// centrifugoUp reports whether pid is centrifugo (the script has exec'd
// it) and host answers its health check.
func centrifugoUp(host string, pid int) bool {
	comm, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil || strings.TrimSpace(string(comm)) != "centrifugo" {
		return false
	}
	resp, err := scrapeClient.Get("http://" + host + "/health")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

// hs256JWT is a JWT of claims signed with HMAC-SHA256.
func hs256JWT(secret string, claims map[string]any) string {
	enc := base64.RawURLEncoding
	c, _ := json.Marshal(claims)
	s := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString(c)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(s))
	return s + "." + enc.EncodeToString(m.Sum(nil))
}

func (t *centrifugoTarget) name() string { return "centrifugo" }
func (t *centrifugoTarget) addr() string { return t.host }
func (t *centrifugoTarget) usage() usage { return t.use }

func (t *centrifugoTarget) feedPath() string {
	return "/connection/uni_sse?cf_connect=" + url.QueryEscape(`{"token":"`+t.token+`"}`)
}

// feedRequest: uni_sse ignores Last-Event-ID (Centrifugo sends no ids;
// its recovery goes through the connect request instead).
func (t *centrifugoTarget) feedRequest(lastID string) []byte {
	return sseRequest(t.host, t.feedPath(), "", lastID)
}

func (t *centrifugoTarget) feedHTTP() (string, string) { return t.feedPath(), "" }

// key is the publisher's counter inside the publication.
func (t *centrifugoTarget) key(_, data []byte) (uint64, bool) {
	i := bytes.Index(data, []byte(`"pub":`))
	if i < 0 {
		return 0, false
	}
	return jsonUint(data[i:], "seq")
}

func (t *centrifugoTarget) wrapping() wrapper { return centrifugoWrap{} }

// centrifugoWrap reads Centrifugo's unidirectional protocol: each SSE
// event's data is one JSON Push; publications carry the event in
// pub.data, {} is a ping, and other pushes (connect, join, leave,
// subscribe, …) are the protocol's own.
type centrifugoWrap struct{}

func (centrifugoWrap) frame(data []byte) frameKind {
	switch {
	case bytes.Equal(data, []byte("{}")):
		return framePing
	case bytes.Contains(data, []byte(`"pub":{`)):
		return frameEvent
	}
	return frameOther
}

func (centrifugoWrap) payload(v any) any {
	if m, ok := v.(map[string]any); ok {
		if pub, ok := m["pub"].(map[string]any); ok {
			return pub["data"]
		}
	}
	return nil
}

func (t *centrifugoTarget) close() { t.stop() }

type centrifugoPublisher struct {
	t    *centrifugoTarget
	h    *rawHTTP
	body []byte
}

func (t *centrifugoTarget) publisher(i int) publisher {
	h := newRawHTTP(t.d, t.host, "", i)
	h.header = "X-API-Key: " + t.apiKey
	return &centrifugoPublisher{t: t, h: h}
}

// publish calls the HTTP API's publish with data shaped like herald's
// session event data (nchan's, plus nothing).
func (p *centrifugoPublisher) publish(sentNs int64) (uint64, error) {
	seq := p.t.seq.next()
	b := p.body[:0]
	b = append(b, `{"channel":"`...)
	b = append(b, p.t.channel...)
	b = append(b, `","data":{"sessionId":"bench-0","ownerAccessKey":"AKIABENCHOWNER000000","group":"bench","reason":"`...)
	b = strconv.AppendInt(b, sentNs, 10)
	b = append(b, `","timestamp":"`...)
	b = time.Unix(0, sentNs).UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z")
	b = append(b, `","seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, "}}"...)
	p.body = b
	st, resp, err := p.h.do("POST", "/api/publish", "application/json", b)
	if err != nil {
		return 0, err
	}
	// Errors come as {"error":{…}}, with 200 by default.
	if st != 200 || bytes.Contains(resp, []byte(`"error"`)) {
		return 0, fmt.Errorf("POST /api/publish: %d %s", st, bytes.TrimSpace(resp))
	}
	return seq, nil
}

func (p *centrifugoPublisher) close() { p.h.Close() }

// tailBuffer keeps the last 4 KiB written to it (a peer's stderr).
type tailBuffer struct {
	b []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = append(t.b[:0], t.b[len(t.b)-4096:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }

type teeWriter struct {
	a, b interface{ Write([]byte) (int, error) }
}

func (w teeWriter) Write(p []byte) (int, error) {
	_, _ = w.b.Write(p)
	return w.a.Write(p)
}
