package api

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// baseURL is the scheme://host[:port] of the absolute URIs herald answers
// with: Config.PublicURL, or else the scheme and the local address the
// request arrived on. Never the request's Host header, which a client sets
// at will (issue 12: it was reflected into Location, uri and Link).
func (a *API) baseURL(r *http.Request) string {
	if a.cfg.PublicURL != "" {
		return a.cfg.PublicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		return scheme + "://" + addr.String()
	}
	return scheme + "://localhost"
}

// ParsePublicURL checks a --public-url: an absolute http or https URL with
// a host, and no query or fragment. It returns it without a trailing slash.
func ParsePublicURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", errors.New("give an absolute http:// or https:// URL such as https://herald.example.com, without query or credentials")
	}
	return strings.TrimRight(s, "/"), nil
}
