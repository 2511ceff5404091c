package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// nchanTarget is nginx + nchan (scripts/nchan/run.sh): events are POSTed
// to the publisher endpoint /pub?id=CHANNEL and read from the EventSource
// subscriber endpoint /sub?id=CHANNEL. Each run uses a fresh channel.
// Event data mirrors herald's session event and adds "seq", the
// publisher's counter, which is the accounting key.
type nchanTarget struct {
	host    string
	channel string
	use     usage
	peerProcess
	d   dialer
	seq counter
}

// peerProcess is a peer server the bench started: its run script's
// process (done closes when it exited) and its scratch directory.
type peerProcess struct {
	cmd    *exec.Cmd
	done   chan struct{}
	prefix string
}

// start runs `bash script ARGS...` on a free loopback port with a fresh
// scratch directory (args gets both) and returns the host:port it will
// listen on. name labels errors and the directory.
func (p *peerProcess) start(name, script string, stderr io.Writer, args func(port int, prefix string) []string) (string, error) {
	if _, err := os.Stat(script); err != nil {
		return "", fmt.Errorf("%s peer: %w (give --%s-script, or run from the repository root)", name, err, name)
	}
	port, err := freePort()
	if err != nil {
		return "", err
	}
	if p.prefix, err = os.MkdirTemp("", name+"-bench-"); err != nil {
		return "", err
	}
	p.cmd = exec.Command("bash", append([]string{script}, args(port, p.prefix)...)...)
	p.cmd.Stderr = stderr
	if err := p.cmd.Start(); err != nil {
		os.RemoveAll(p.prefix)
		p.cmd, p.prefix = nil, ""
		return "", err
	}
	p.done = make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	return "127.0.0.1:" + strconv.Itoa(port), nil
}

// stop ends the process (SIGTERM, SIGKILL after 10 s) and removes the
// scratch directory. For nginx, SIGQUIT would be the graceful stop, but
// open streams hold it; SIGTERM (fast stop) is what ends a benchmark.
func (p *peerProcess) stop() {
	if p.cmd != nil {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		p.cmd = nil
	}
	if p.prefix != "" {
		os.RemoveAll(p.prefix)
		p.prefix = ""
	}
}

// openNchan starts scripts/nchan/run.sh on a free loopback port, or uses
// o.Target (a running nchan with the same locations).
func openNchan(ctx context.Context, o *Options, keepalive time.Duration) (*nchanTarget, error) {
	t := &nchanTarget{channel: "bench-" + randomHex(6), d: dialer{o.Sources}}
	if o.Target != "" {
		u, err := url.Parse(o.Target)
		if err != nil || u.Host == "" || u.Scheme != "http" {
			return nil, fmt.Errorf("target %q: want http://host:port", o.Target)
		}
		t.host = u.Host
		t.use = noUsage{}
		if o.ServerPID > 0 {
			pid := o.ServerPID
			t.use = pidUsage{pids: func() []int { return processTree(pid) }, name: "nginx pid " + strconv.Itoa(pid) + " and workers"}
		}
		return t, nil
	}
	script := o.NchanScript
	if script == "" {
		script = "scripts/nchan/run.sh"
	}
	host, err := t.start("nchan", script, o.Verbose, func(port int, prefix string) []string {
		return []string{"--port", strconv.Itoa(port), "--workers", strconv.Itoa(max(o.NchanWorkers, 1)),
			"--keepalive", strconv.Itoa(max(int(keepalive/time.Second), 1)), "--prefix", prefix}
	})
	if err != nil {
		return nil, err
	}
	t.host = host
	pid := t.cmd.Process.Pid // the script execs nginx: this is the master
	t.use = pidUsage{pids: func() []int { return processTree(pid) }, name: "nginx pid " + strconv.Itoa(pid) + " and workers"}
	// The script may install packages first: allow for it.
	deadline := time.Now().Add(5 * time.Minute)
	for {
		// Ours answers nchan's status page (another process may have
		// taken the free port meanwhile: nginx then exits).
		if nchanUp(t.host) && len(processTree(pid)) > max(o.NchanWorkers, 1) {
			break
		}
		select {
		case <-t.done:
			b, _ := os.ReadFile(filepath.Join(t.prefix, "error.log"))
			os.RemoveAll(t.prefix)
			return nil, fmt.Errorf("nchan: %s exited: %s", script, strings.TrimSpace(string(b)))
		case <-ctx.Done():
			t.close()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.close()
			return nil, fmt.Errorf("nchan: not listening on %s after 5 minutes", t.host)
		}
	}
	return t, nil
}

// nchanUp reports whether host serves nchan's stub status.
func nchanUp(host string) bool {
	resp, err := scrapeClient.Get("http://" + host + "/nchan_status")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode == 200 && strings.Contains(string(b), "total published messages")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (t *nchanTarget) name() string { return "nchan" }
func (t *nchanTarget) addr() string { return t.host }
func (t *nchanTarget) usage() usage { return t.use }

func (t *nchanTarget) feedRequest(lastID string) []byte {
	return sseRequest(t.host, "/sub?id="+t.channel, "", lastID)
}

func (t *nchanTarget) feedHTTP() (string, string) { return "/sub?id=" + t.channel, "" }

func (t *nchanTarget) key(_, data []byte) (uint64, bool) { return jsonUint(data, "seq") }

func (t *nchanTarget) wrapping() wrapper { return nil }

func (t *nchanTarget) close() { t.stop() }

type nchanPublisher struct {
	t    *nchanTarget
	h    *rawHTTP
	path string
	body []byte
}

func (t *nchanTarget) publisher(i int) publisher {
	return &nchanPublisher{t: t, h: newRawHTTP(t.d, t.host, "", i), path: "/pub?id=" + t.channel}
}

// publish POSTs a message shaped like herald's session event data.
func (p *nchanPublisher) publish(sentNs int64) (uint64, error) {
	seq := p.t.seq.next()
	b := p.body[:0]
	b = append(b, `{"sessionId":"bench-0","ownerAccessKey":"AKIABENCHOWNER000000","group":"bench","reason":"`...)
	b = strconv.AppendInt(b, sentNs, 10)
	b = append(b, `","timestamp":"`...)
	b = time.Unix(0, sentNs).UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z")
	b = append(b, `","seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, '}')
	p.body = b
	st, resp, err := p.h.do("POST", p.path, "application/json", b)
	if err != nil {
		return 0, err
	}
	if st != 201 && st != 202 {
		return 0, fmt.Errorf("POST %s: %d %s", p.path, st, strings.TrimSpace(string(resp)))
	}
	return seq, nil
}

func (p *nchanPublisher) close() { p.h.Close() }
