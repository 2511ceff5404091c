package main

import (
	"net"
	"testing"
)

// TestListenPublicURL: --public-url is checked and used as given; without
// it the listen address names the public URL unless it is 0.0.0.0 or [::]
// (then each answer names the address its connection came to).
func TestListenPublicURL(t *testing.T) {
	specific := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
	any4 := &net.TCPAddr{IP: net.IPv4zero, Port: 8080}
	for _, c := range []struct {
		flag, scheme string
		addr         net.Addr
		want         string
		fails        bool
	}{
		{"", "http", specific, "http://127.0.0.1:8080", false},
		{"", "https", specific, "https://127.0.0.1:8080", false},
		{"", "http", any4, "", false},
		{"https://herald.example.com/", "http", any4, "https://herald.example.com", false},
		{"herald.example.com", "http", specific, "", true},
		{"ftp://herald.example.com", "http", specific, "", true},
		{"https://herald.example.com/?x=1", "http", specific, "", true},
		{"https://u:p@herald.example.com", "http", specific, "", true},
	} {
		got, err := listenPublicURL(c.flag, c.scheme, c.addr)
		if (err != nil) != c.fails || got != c.want {
			t.Errorf("listenPublicURL(%q, %s, %v) = %q, %v; want %q (error: %v)", c.flag, c.scheme, c.addr, got, err, c.want, c.fails)
		}
	}
}
