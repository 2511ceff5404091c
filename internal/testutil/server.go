// Package testutil starts real herald servers for tests: the embedded
// store in a temporary directory, real HTTP on a loopback port.
package testutil

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/herald-sse/herald/api"
	"github.com/herald-sse/herald/client"
	"github.com/herald-sse/herald/store"
)

// Server is a running herald server.
type Server struct {
	URL   string
	Token string // the bootstrap superadmin's token
	Dir   string
	API   *api.API
	Store *store.Store

	cfg    api.Config
	scfg   store.Config
	srv    *http.Server
	ln     net.Listener
	cancel context.CancelFunc
	done   chan struct{}
	closed bool
}

// Option changes a test server's configuration.
type Option func(*api.Config, *store.Config)

// WithConfig sets api settings.
func WithConfig(f func(*api.Config)) Option {
	return func(c *api.Config, _ *store.Config) { f(c) }
}

// WithDir uses dir as the data directory (to restart on the same store).
func WithDir(dir string) Option {
	return func(_ *api.Config, s *store.Config) { s.Dir = dir }
}

// BootstrapToken is the superadmin token of every test server.
const BootstrapToken = "hrld_test-bootstrap-token-0123456789abcdefghijklmnop"

// Start starts a server on 127.0.0.1:0 with its store in a temporary
// directory; it is stopped when the test ends.
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s := &Server{cfg: api.Config{Keepalive: 15 * time.Second}, scfg: store.Config{Dir: tb.TempDir()}}
	for _, o := range opts {
		o(&s.cfg, &s.scfg)
	}
	s.Dir = s.scfg.Dir
	s.start(tb, "127.0.0.1:0")
	tb.Cleanup(s.Close)
	return s
}

func (s *Server) start(tb testing.TB, addr string) {
	tb.Helper()
	if err := s.launch(addr); err != nil {
		tb.Fatal(err)
	}
}

// launch opens the store, follows it, bootstraps and serves on addr.
func (s *Server) launch(addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := store.Open(ctx, s.scfg)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	s.Store = st
	s.API = api.New(s.cfg, st, nil)
	runCtx, runCancel := context.WithCancel(context.Background())
	s.cancel = runCancel
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		_ = s.API.Run(runCtx)
	}()
	if err := s.API.WaitReady(ctx); err != nil {
		return fmt.Errorf("views not ready: %w", err)
	}
	if _, err := s.API.Bootstrap(ctx, BootstrapToken); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	for i := 0; ; i++ {
		s.ln, err = net.Listen("tcp", addr)
		if err == nil || i == 50 {
			break
		}
		time.Sleep(100 * time.Millisecond) // the old listener of a restart may linger
	}
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	s.URL = "http://" + s.ln.Addr().String()
	s.Token = BootstrapToken
	s.srv = &http.Server{Handler: s.API, ReadHeaderTimeout: 10 * time.Second}
	srv, ln := s.srv, s.ln // a Restart replaces the fields while this goroutine may still start
	go func() { _ = srv.Serve(ln) }()
	s.closed = false
	return nil
}

// New starts a server outside a test (runnable examples): its store is in
// a new temporary directory that stop removes.
func New(opts ...Option) (s *Server, stop func(), err error) {
	dir, err := os.MkdirTemp("", "herald-example-")
	if err != nil {
		return nil, nil, err
	}
	s = &Server{cfg: api.Config{Keepalive: 15 * time.Second}, scfg: store.Config{Dir: dir}}
	for _, o := range opts {
		o(&s.cfg, &s.scfg)
	}
	s.Dir = dir
	if err := s.launch("127.0.0.1:0"); err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return s, func() { s.Close(); os.RemoveAll(dir) }, nil
}

// Close shuts the server down as SIGTERM would: streams end cleanly.
func (s *Server) Close() {
	if s.closed {
		return
	}
	s.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = s.API.Shutdown(ctx)
	_ = s.srv.Shutdown(ctx)
	s.cancel()
	<-s.done
	_ = s.API.Close()
	s.Store.Close()
}

// Restart stops the server and starts it again on the same address and
// data directory.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	addr := s.ln.Addr().String()
	s.Close()
	s.start(tb, addr)
}

// Client returns a client of this server with token.
func (s *Server) Client(token string) *client.Client {
	return &client.Client{Server: s.URL, Token: token, HTTP: &http.Client{Timeout: 30 * time.Second}}
}

// Admin is a client with the superadmin token.
func (s *Server) Admin() *client.Client { return s.Client(s.Token) }

// CreateDomain creates a domain (failing the test on error).
func (s *Server) CreateDomain(tb testing.TB, name string) {
	tb.Helper()
	if err := s.Admin().Do(context.Background(), "POST", "/v1/admin/domains", map[string]string{"name": name}, nil, ""); err != nil {
		tb.Fatalf("create domain %s: %v", name, err)
	}
}

// CreateGroup creates a group in a domain.
func (s *Server) CreateGroup(tb testing.TB, domain, name string) {
	tb.Helper()
	if err := s.Admin().Do(context.Background(), "POST", "/v1/admin/domains/"+domain+"/groups", map[string]string{"name": name}, nil, ""); err != nil {
		tb.Fatalf("create group %s/%s: %v", domain, name, err)
	}
}

// Key is a created key.
type Key struct {
	AccessKey string `json:"accessKey"`
	Token     string `json:"token"`
}

// CreateKey creates a key of role in domain (groups and node optional).
func (s *Server) CreateKey(tb testing.TB, role, domain string, groups []string, node string) Key {
	tb.Helper()
	body := map[string]any{"role": role, "domain": domain}
	if len(groups) > 0 {
		body["groups"] = groups
	}
	if node != "" {
		body["node"] = node
	}
	var k Key
	if err := s.Admin().Do(context.Background(), "POST", "/v1/admin/keys", body, &k, ""); err != nil {
		tb.Fatalf("create key: %v", err)
	}
	return k
}

// Get performs a GET with token and returns the response (caller closes).
func (s *Server) Get(tb testing.TB, ctx context.Context, path, token string, header map[string]string) *http.Response {
	tb.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", s.URL+path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("GET %s: %v", path, err)
	}
	return resp
}

// Problem reads a problem+json answer.
func Problem(tb testing.TB, resp *http.Response) api.Problem {
	tb.Helper()
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		b, _ := io.ReadAll(resp.Body)
		tb.Fatalf("status %d: Content-Type %q, body %q", resp.StatusCode, ct, b)
	}
	var p api.Problem
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		tb.Fatalf("problem body: %v", err)
	}
	return p
}
