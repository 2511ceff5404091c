package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/herald-sse/herald/client"
)

// maxTokenFile bounds what --token-file reads: a token is short.
const maxTokenFile = 64 << 10

// clientFlags are --server, --token and --token-file, shared by every
// client command (also HERALD_SERVER, HERALD_TOKEN and HERALD_TOKEN_FILE).
type clientFlags struct {
	server, token, tokenFile string
	warn                     io.Writer // where a token file's loose mode is reported (os.Stderr when nil)
}

func (f *clientFlags) add(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&f.server, "server", "http://127.0.0.1:8080", "herald server URL (or HERALD_SERVER); without a scheme http:// is assumed")
	cmd.PersistentFlags().StringVar(&f.token, "token", "", "bearer token (or HERALD_TOKEN); on the command line it is visible to every local user, prefer --token-file")
	cmd.PersistentFlags().StringVar(&f.tokenFile, "token-file", "", "read the bearer token from this file (or HERALD_TOKEN_FILE); surrounding whitespace is ignored, the file should be mode 0600")
}

func (f *clientFlags) client() (*client.Client, error) {
	server, err := serverURL(f.server)
	if err != nil {
		return nil, err
	}
	token, err := f.readToken()
	if err != nil {
		return nil, err
	}
	return &client.Client{Server: server, Token: token, HTTP: newHTTPClient()}, nil
}

// readToken returns the token from --token or from --token-file (never
// both). A token file that group or others may read is used, with a
// warning.
func (f *clientFlags) readToken() (string, error) {
	switch {
	case f.token != "" && f.tokenFile != "":
		return "", errors.New("give either --token or --token-file (HERALD_TOKEN or HERALD_TOKEN_FILE), not both")
	case f.token != "":
		return f.token, nil
	case f.tokenFile == "":
		return "", errors.New("no token: pass --token-file or --token, or set HERALD_TOKEN_FILE or HERALD_TOKEN (the superadmin token is printed by the first `herald serve` and saved to herald-data/bootstrap-token)")
	}
	file, err := os.Open(f.tokenFile)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	defer file.Close()
	st, err := file.Stat()
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	if !st.Mode().IsRegular() && st.Mode()&os.ModeNamedPipe == 0 {
		return "", fmt.Errorf("--token-file %s: not a regular file", f.tokenFile)
	}
	b, err := io.ReadAll(io.LimitReader(file, maxTokenFile+1))
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	if len(b) > maxTokenFile {
		return "", fmt.Errorf("--token-file %s: larger than %d bytes; not a token", f.tokenFile, maxTokenFile)
	}
	token := strings.TrimSpace(string(b))
	switch {
	case token == "":
		return "", fmt.Errorf("--token-file %s: empty", f.tokenFile)
	case strings.ContainsAny(token, "\r\n\x00"):
		return "", fmt.Errorf("--token-file %s: holds more than one line; want the token alone", f.tokenFile)
	}
	if st.Mode().IsRegular() && st.Mode().Perm()&0o077 != 0 {
		w := f.warn
		if w == nil {
			w = os.Stderr
		}
		fmt.Fprintf(w, "herald: warning: --token-file %s is open to group or others (mode %04o); chmod 600 it\n", f.tokenFile, st.Mode().Perm())
	}
	return token, nil
}

func newHTTPClient() *http.Client { return &http.Client{Timeout: 30 * time.Second} }
