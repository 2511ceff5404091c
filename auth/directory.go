package auth

import (
	"encoding/json"
	"sort"
	"sync"
	"time"

	"github.com/herald-sse/herald"
)

// Record kinds of the auth objects in the store.
const (
	KindDomain = "domain"
	KindGroup  = "group"
	KindKey    = "key"
	KindLogin  = "login"
)

// Directory is the in-memory state of every auth object. It is safe for
// concurrent use; Apply is called by the store's tail.
type Directory struct {
	mu      sync.RWMutex
	domains map[string]Domain
	groups  map[string]map[string]Group // domain → name → group
	keys    map[string]*Key             // access key → key
	byHash  map[string]*Key             // token hash → key
	logins  map[string]Login            // cookie hash → login
}

// NewDirectory returns an empty directory.
func NewDirectory() *Directory {
	return &Directory{
		domains: map[string]Domain{},
		groups:  map[string]map[string]Group{},
		keys:    map[string]*Key{},
		byHash:  map[string]*Key{},
		logins:  map[string]Login{},
	}
}

// Apply applies one auth record (kind, snapshot, deleted). It returns the
// access key that was revoked, if the record revoked one.
func (d *Directory) Apply(kind string, snapshot json.RawMessage, deleted bool) (revoked string, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch kind {
	case KindDomain:
		var v Domain
		if err := json.Unmarshal(snapshot, &v); err != nil {
			return "", err
		}
		d.domains[v.Name] = v
	case KindGroup:
		var v Group
		if err := json.Unmarshal(snapshot, &v); err != nil {
			return "", err
		}
		if d.groups[v.Domain] == nil {
			d.groups[v.Domain] = map[string]Group{}
		}
		d.groups[v.Domain][v.Name] = v
	case KindKey:
		var v Key
		if err := json.Unmarshal(snapshot, &v); err != nil {
			return "", err
		}
		if old := d.keys[v.AccessKey]; old != nil {
			delete(d.byHash, old.TokenHash)
			delete(d.keys, v.AccessKey)
		}
		if deleted {
			for h, l := range d.logins {
				if l.AccessKey == v.AccessKey {
					delete(d.logins, h)
				}
			}
			return v.AccessKey, nil
		}
		d.keys[v.AccessKey] = &v
		d.byHash[v.TokenHash] = &v
	case KindLogin:
		var v Login
		if err := json.Unmarshal(snapshot, &v); err != nil {
			return "", err
		}
		if deleted {
			delete(d.logins, v.Hash)
		} else {
			d.logins[v.Hash] = v
		}
	}
	return "", nil
}

// ExpiredLogins returns the hashes of the logins that expired before now.
func (d *Directory) ExpiredLogins(now time.Time) []string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var out []string
	for h, l := range d.logins {
		if !now.Before(l.Expires) {
			out = append(out, h)
		}
	}
	return out
}

// ForgetLogin drops a login whose record was purged.
func (d *Directory) ForgetLogin(hash string) {
	d.mu.Lock()
	delete(d.logins, hash)
	d.mu.Unlock()
}

// Logins returns how many logins the directory holds.
func (d *Directory) Logins() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return len(d.logins)
}

// ByToken returns the key a bearer token belongs to.
func (d *Directory) ByToken(token string) (*Key, bool) {
	h := HashToken(token)
	d.mu.RLock()
	k, ok := d.byHash[h]
	d.mu.RUnlock()
	return k, ok
}

// ByLogin returns the login and its key for a cookie value.
func (d *Directory) ByLogin(cookie string) (Login, *Key, bool) {
	h := HashToken(cookie)
	d.mu.RLock()
	defer d.mu.RUnlock()
	l, ok := d.logins[h]
	if !ok {
		return Login{}, nil, false
	}
	k, ok := d.keys[l.AccessKey]
	return l, k, ok
}

// Key returns a key by access key.
func (d *Directory) Key(accessKey string) (*Key, bool) {
	d.mu.RLock()
	k, ok := d.keys[accessKey]
	d.mu.RUnlock()
	return k, ok
}

// Domain returns a domain by name.
func (d *Directory) Domain(name string) (Domain, bool) {
	d.mu.RLock()
	v, ok := d.domains[name]
	d.mu.RUnlock()
	return v, ok
}

// Group returns a group of a domain.
func (d *Directory) Group(domain, name string) (Group, bool) {
	d.mu.RLock()
	g, ok := d.groups[domain][name]
	d.mu.RUnlock()
	return g, ok
}

// GroupInAnyDomain reports whether any domain has a group of that name.
func (d *Directory) GroupInAnyDomain(name string) bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, gs := range d.groups {
		if _, ok := gs[name]; ok {
			return true
		}
	}
	return false
}

// Domains lists every domain by name.
func (d *Directory) Domains() []Domain {
	d.mu.RLock()
	out := make([]Domain, 0, len(d.domains))
	for _, v := range d.domains {
		out = append(out, v)
	}
	d.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Groups lists a domain's groups by name.
func (d *Directory) Groups(domain string) []Group {
	d.mu.RLock()
	out := make([]Group, 0, len(d.groups[domain]))
	for _, v := range d.groups[domain] {
		out = append(out, v)
	}
	d.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Keys lists the keys of a domain ("" = every domain) by access key.
func (d *Directory) Keys(domain string) []Key {
	d.mu.RLock()
	out := make([]Key, 0)
	for _, k := range d.keys {
		if domain == "" || k.Domain == domain {
			out = append(out, *k)
		}
	}
	d.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].AccessKey < out[j].AccessKey })
	return out
}

// NodeKeys lists the node names that have a node key in domain.
func (d *Directory) NodeKeys(domain string) []string {
	d.mu.RLock()
	seen := map[string]bool{}
	for _, k := range d.keys {
		if k.Role == herald.RoleNode && k.Domain == domain {
			seen[k.Node] = true
		}
	}
	d.mu.RUnlock()
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// HasSuperadmin reports whether any superadmin key exists.
func (d *Directory) HasSuperadmin() bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, k := range d.keys {
		if k.Role == herald.RoleSuperadmin {
			return true
		}
	}
	return false
}
