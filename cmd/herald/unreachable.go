package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// serverURL reads --server (or HERALD_SERVER): a URL without a scheme
// gets http:// ("127.0.0.1:8080" → "http://127.0.0.1:8080"); anything but
// an http or https URL with a host is refused, saying what is wanted.
func serverURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s != "" && !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("--server %q (or HERALD_SERVER): want the server's URL, such as http://127.0.0.1:8080", s)
	}
	return strings.TrimRight(s, "/"), nil
}

// unreachable returns the one-line message for err when it is a failure
// to reach the server at all (refused, no such host, no route, timed out
// connecting) — with the server and what to check — and false otherwise.
func unreachable(err error) (string, bool) {
	var ue *url.Error
	var op *net.OpError
	if !errors.As(err, &ue) || !errors.As(ue.Err, &op) || op.Op != "dial" {
		return "", false
	}
	server := ue.URL
	if u, perr := url.Parse(ue.URL); perr == nil {
		server = u.Scheme + "://" + u.Host
	}
	return fmt.Sprintf("cannot reach the herald server at %s (%s): is it running? Point --server or HERALD_SERVER at it",
		server, rootCause(op)), true
}

// rootCause is the innermost error's text: "connection refused", "no such
// host", "i/o timeout".
func rootCause(err error) string {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return dns.Err
	}
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}
