package main

import (
	"errors"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/herald-sse/herald/client"
)

// clientFlags are --server and --token, shared by every client command
// (also HERALD_SERVER and HERALD_TOKEN).
type clientFlags struct {
	server, token string
}

func (f *clientFlags) add(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&f.server, "server", "http://127.0.0.1:8080", "herald server URL")
	cmd.PersistentFlags().StringVar(&f.token, "token", "", "bearer token (or HERALD_TOKEN)")
}

func (f *clientFlags) client() (*client.Client, error) {
	if f.token == "" {
		return nil, errors.New("no token: pass --token or set HERALD_TOKEN (the superadmin token is printed by the first `herald serve` and saved to herald-data/bootstrap-token)")
	}
	return &client.Client{Server: f.server, Token: f.token, HTTP: newHTTPClient()}, nil
}

func newHTTPClient() *http.Client { return &http.Client{Timeout: 30 * time.Second} }
