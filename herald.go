// Package herald holds the words every herald package shares: event ids,
// roles and the error type that the api package maps to HTTP statuses.
//
// herald keeps the lifecycle of compute sessions, background tasks and push
// jobs in an event-sourced store and streams every change as Server-Sent
// Events. See SPEC.md for the contract and ARCHITECTURE.md for the design.
package herald

// Role is what a key may do. See SPEC §1.
type Role string

// The five roles of SPEC §1.
const (
	RoleSuperadmin Role = "superadmin"
	RoleAdmin      Role = "admin"
	RoleUser       Role = "user"
	RoleService    Role = "service"
	RoleNode       Role = "node"
)

// Valid reports whether r is one of the five roles.
func (r Role) Valid() bool {
	switch r {
	case RoleSuperadmin, RoleAdmin, RoleUser, RoleService, RoleNode:
		return true
	}
	return false
}

// DefaultDomain exists from the first start of every store.
const DefaultDomain = "default"

// ValidSlug reports whether s is a slug: [A-Za-z0-9][A-Za-z0-9._-]{0,63}.
// Session ids, group, domain and node names are slugs. (Checked by hand: it
// runs several times on every write.)
func ValidSlug(s string) bool {
	if len(s) == 0 || len(s) > 64 || !alnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !alnum(c) && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func alnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }
