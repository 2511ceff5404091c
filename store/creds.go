package store

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// CredentialsFile is the file in the data directory holding the user and
// password (as "user:password", mode 0600) that the embedded NATS server
// requires of every client, herald's own included. Other herald processes
// sharing the store with --nats pass it with --nats-credentials.
const CredentialsFile = "nats-credentials"

// credentialsUser is the NATS user herald generates.
const credentialsUser = "herald"

// Credentials are a NATS user and password.
type Credentials struct {
	User, Password string
}

// loadCredentials reads the data directory's credentials, generating them
// on first use: 32 random bytes of password, written with mode 0600.
func loadCredentials(dir string) (Credentials, error) {
	path := filepath.Join(dir, CredentialsFile)
	c, err := ReadCredentials(path)
	if err == nil {
		if fi, serr := os.Stat(path); serr == nil && fi.Mode().Perm()&0o077 != 0 {
			if cerr := os.Chmod(path, 0o600); cerr != nil {
				return Credentials{}, fmt.Errorf("store: %s is readable by others: %w", path, cerr)
			}
		}
		return c, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return Credentials{}, err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return Credentials{}, err
	}
	c = Credentials{User: credentialsUser, Password: base64.RawURLEncoding.EncodeToString(b)}
	if err := writeFileSync(path, []byte(c.User+":"+c.Password+"\n"), 0o600); err != nil {
		return Credentials{}, fmt.Errorf("store: write %s: %w", path, err)
	}
	return c, nil
}

// ReadCredentials reads a credentials file ("user:password", as herald
// writes into its data directory).
func ReadCredentials(path string) (Credentials, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Credentials{}, fmt.Errorf("store: credentials: %w", err)
	}
	user, pass, ok := strings.Cut(strings.TrimSpace(string(b)), ":")
	if !ok || user == "" || pass == "" {
		return Credentials{}, fmt.Errorf("store: credentials %s: want one line user:password", path)
	}
	return Credentials{User: user, Password: pass}, nil
}

// writeFileSync writes data to path through a temporary file, fsynced and
// renamed into place, then fsyncs the directory: the file is either old
// or new and whole, even after a power failure.
func writeFileSync(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
