package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/herald-sse/herald/sse"
)

// TestTLSAndHTTP2: with --tls-cert/--tls-key herald serves HTTPS, feeds
// stream over HTTP/2, and the login cookie is Secure.
func TestTLSAndHTTP2(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the herald binary")
	}
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	p := startServe(t, "--data", filepath.Join(dir, "data"), "--bootstrap-token", testToken,
		"--tls-cert", cert, "--tls-key", key, "--keepalive", "200ms")
	if !strings.HasPrefix(p.url, "https://") {
		t.Fatalf("url %s", p.url)
	}
	req, _ := http.NewRequest("GET", p.url+"/events/session?sessionId=*", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := insecureClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" {
		t.Fatalf("%s %d %s", resp.Proto, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	r := sse.NewReader(resp.Body)
	got := make(chan string, 1)
	r.OnComment = func(text string) {
		select {
		case got <- text:
		default:
		}
	}
	go func() { _, _ = r.Next() }()
	select {
	case c := <-got:
		if c != "keepalive" {
			t.Fatalf("comment %q", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no keepalive over HTTP/2")
	}
	lreq, _ := http.NewRequest("POST", p.url+"/v1/login", nil)
	lreq.Header.Set("Authorization", "Bearer "+testToken)
	lresp, err := insecureClient.Do(lreq)
	if err != nil || lresp.StatusCode != 204 {
		t.Fatalf("login: %v %v", err, lresp)
	}
	if c := lresp.Cookies(); len(c) != 1 || !c[0].Secure {
		t.Fatalf("cookie over TLS: %+v", c)
	}
}

func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "herald test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(priv)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}
