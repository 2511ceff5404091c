// Package auth holds herald's tenants and credentials — domains, groups,
// keys and browser logins — and the visibility policy: who may see and do
// what. Its Directory is built from the store's records like the views.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"

	"github.com/herald-sse/herald"
)

// Domain is a tenant (a Chef organization).
type Domain struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
}

// Group is a named project inside a domain.
type Group struct {
	Domain    string    `json:"domain"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
}

// Key is an API credential. Its secret is kept only as TokenHash.
type Key struct {
	AccessKey string      `json:"accessKey"`
	Role      herald.Role `json:"role"`
	Domain    string      `json:"domain"`
	Groups    []string    `json:"groups,omitempty"`
	Node      string      `json:"node,omitempty"`
	TokenHash string      `json:"tokenHash"`
	CreatedAt time.Time   `json:"createdAt"`
}

// InGroup reports whether the key belongs to group.
func (k *Key) InGroup(group string) bool {
	for _, g := range k.Groups {
		if g == group {
			return true
		}
	}
	return false
}

// Login is a browser session created by POST /v1/login.
type Login struct {
	Hash      string    `json:"hash"` // hash of the cookie value
	AccessKey string    `json:"accessKey"`
	Expires   time.Time `json:"expires"`
}

// NewToken returns a new random bearer token.
func NewToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return "hrld_" + base64.RawURLEncoding.EncodeToString(b)
}

// NewAccessKey returns a new public access key, e.g. HKX5Q3…
func NewAccessKey() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return "HK" + strings.TrimRight(base32.StdEncoding.EncodeToString(b), "=")[:18]
}

// HashToken is how tokens and cookie values are stored. Tokens are 256-bit
// random values, so an unsalted SHA-256 cannot be reversed by guessing.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
