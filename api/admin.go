package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/store"
)

type nameReq struct {
	Name *string `json:"name"`
}

type createKeyReq struct {
	Role   *string  `json:"role"`
	Domain *string  `json:"domain"`
	Groups []string `json:"groups"`
	Node   *string  `json:"node"`
}

// createdKey is the answer to a key creation: the only time the token is shown.
type createdKey struct {
	AccessKey string      `json:"accessKey"`
	Token     string      `json:"token,omitempty"` // only in the first answer
	Role      herald.Role `json:"role"`
	Domain    string      `json:"domain"`
	Groups    []string    `json:"groups,omitempty"`
	Node      string      `json:"node,omitempty"`
}

// publicKey is a key as listed: never its token or hash.
type publicKey struct {
	AccessKey string      `json:"accessKey"`
	Role      herald.Role `json:"role"`
	Domain    string      `json:"domain"`
	Groups    []string    `json:"groups,omitempty"`
	Node      string      `json:"node,omitempty"`
	CreatedAt time.Time   `json:"createdAt"`
}

func slugField(field string, v *string) (string, error) {
	if v == nil {
		return "", herald.FieldErrorf(field, "is required")
	}
	if !herald.ValidSlug(*v) {
		return "", herald.FieldErrorf(field, "must be a slug ([A-Za-z0-9][A-Za-z0-9._-]{0,63}), got %q", truncate(*v, 80))
	}
	return *v, nil
}

// authChange appends an auth object. A creation expects an empty subject
// (so a racing duplicate is a conflict, then a 409); a deletion is
// idempotent and skips the check.
func authChange(kind, subject string, v any, status int, deleted bool) change {
	snap, _ := json.Marshal(v)
	return change{status: status, app: store.Append{Subject: subject, NoCheck: deleted,
		Record: store.Record{Kind: kind, Snapshot: snap, Deleted: deleted}}}
}

// createDomain: POST /v1/admin/domains (superadmin).
func (a *API) createDomain(w http.ResponseWriter, r *http.Request) {
	k := caller(r)
	var req nameReq
	if err := decodeRequest(r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	name, err := slugField("name", req.Name)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if k.Role != herald.RoleSuperadmin {
		a.writeError(w, r, forbiddenf("only a superadmin creates domains"))
		return
	}
	ans, err := a.commit(r.Context(), r, k, func() (change, any, error) {
		if _, ok := a.views.Auth.Domain(name); ok {
			return change{}, nil, herald.Errorf(herald.EConflict, "domain %q already exists", name)
		}
		d := auth.Domain{Name: name, CreatedAt: time.Now().UTC()}
		return authChange(auth.KindDomain, store.Subject("auth.domain", name), d, http.StatusCreated, false), d, nil
	})
	a.reply(w, r, ans, err)
}

// listDomains: GET /v1/admin/domains (superadmin: all; admin: its own).
func (a *API) listDomains(w http.ResponseWriter, r *http.Request) {
	k := caller(r)
	switch k.Role {
	case herald.RoleSuperadmin:
		writeJSON(w, http.StatusOK, a.views.Auth.Domains())
	case herald.RoleAdmin:
		d, _ := a.views.Auth.Domain(k.Domain)
		writeJSON(w, http.StatusOK, []auth.Domain{d})
	default:
		a.writeError(w, r, forbiddenf("a %s key cannot list domains", k.Role))
	}
}

// adminDomain checks the caller administers the path's domain.
func (a *API) adminDomain(ctx context.Context, k *auth.Key, domain string) error {
	if k.Role != herald.RoleSuperadmin && k.Role != herald.RoleAdmin {
		return forbiddenf("a %s key cannot administer domains", k.Role)
	}
	if !k.CanAdminister(domain) || !a.knownDomain(ctx, domain) {
		return notFoundf("no domain %q", domain)
	}
	return nil
}

// createGroup: POST /v1/admin/domains/{domain}/groups.
func (a *API) createGroup(w http.ResponseWriter, r *http.Request) {
	k := caller(r)
	domain := r.PathValue("domain")
	var req nameReq
	if err := decodeRequest(r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	name, err := slugField("name", req.Name)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.adminDomain(r.Context(), k, domain); err != nil {
		a.writeError(w, r, err)
		return
	}
	ans, err := a.commit(r.Context(), r, k, func() (change, any, error) {
		if _, ok := a.views.Auth.Group(domain, name); ok {
			return change{}, nil, herald.Errorf(herald.EConflict, "group %q already exists in domain %q", name, domain)
		}
		g := auth.Group{Domain: domain, Name: name, CreatedAt: time.Now().UTC()}
		return authChange(auth.KindGroup, store.Subject("auth.group", domain, name), g, http.StatusCreated, false), g, nil
	})
	a.reply(w, r, ans, err)
}

// listGroups: GET /v1/admin/domains/{domain}/groups.
func (a *API) listGroups(w http.ResponseWriter, r *http.Request) {
	k := caller(r)
	domain := r.PathValue("domain")
	if err := a.adminDomain(r.Context(), k, domain); err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a.views.Auth.Groups(domain))
}

// createKey: POST /v1/admin/keys → 201 {"accessKey","token",…}.
func (a *API) createKey(w http.ResponseWriter, r *http.Request) {
	k := caller(r)
	var req createKeyReq
	if err := decodeRequest(r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	if req.Role == nil {
		a.writeError(w, r, herald.FieldErrorf("role", "is required: superadmin, admin, user, service or node"))
		return
	}
	role := herald.Role(*req.Role)
	if !role.Valid() {
		a.writeError(w, r, herald.FieldErrorf("role", "must be superadmin, admin, user, service or node, got %q", truncate(*req.Role, 40)))
		return
	}
	domain := herald.DefaultDomain
	if req.Domain != nil {
		domain = *req.Domain
	}
	if _, err := slugField("domain", &domain); err != nil {
		a.writeError(w, r, err)
		return
	}
	node := ""
	if role == herald.RoleNode {
		n, err := slugField("node", req.Node)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		node = n
	} else if req.Node != nil {
		a.writeError(w, r, herald.FieldErrorf("node", "is only for node keys"))
		return
	}
	for _, g := range req.Groups {
		if _, err := slugField("groups", &g); err != nil {
			a.writeError(w, r, err)
			return
		}
	}
	if err := a.adminDomain(r.Context(), k, domain); err != nil {
		a.writeError(w, r, err)
		return
	}
	if role == herald.RoleSuperadmin && k.Role != herald.RoleSuperadmin {
		a.writeError(w, r, forbiddenf("only a superadmin creates superadmin keys"))
		return
	}
	for _, g := range req.Groups {
		if !a.knownGroup(r.Context(), domain, g) {
			a.writeError(w, r, herald.FieldErrorf("groups", "domain %q has no group %q; create it first", domain, g))
			return
		}
	}
	token := auth.NewToken()
	key := auth.Key{AccessKey: auth.NewAccessKey(), Role: role, Domain: domain, Groups: req.Groups,
		Node: node, TokenHash: auth.HashToken(token), CreatedAt: time.Now().UTC()}
	ans, err := a.commit(r.Context(), r, k, func() (change, any, error) {
		out := createdKey{AccessKey: key.AccessKey, Token: token, Role: role, Domain: domain, Groups: key.Groups, Node: node}
		ch := authChange(auth.KindKey, store.Subject("auth.key", key.AccessKey), key, http.StatusCreated, false)
		// Tokens are stored only as hashes: a retry with the same
		// Idempotency-Key gets the key without its token.
		stored := out
		stored.Token = ""
		ch.stored = stored
		return ch, out, nil
	})
	a.reply(w, r, ans, err)
}

// listKeys: GET /v1/admin/keys?domain=.
func (a *API) listKeys(w http.ResponseWriter, r *http.Request) {
	k := caller(r)
	domain := r.URL.Query().Get("domain")
	if k.Role == herald.RoleAdmin {
		if domain != "" && domain != k.Domain {
			a.writeError(w, r, notFoundf("no domain %q", domain))
			return
		}
		domain = k.Domain
	} else if k.Role != herald.RoleSuperadmin {
		a.writeError(w, r, forbiddenf("a %s key cannot list keys", k.Role))
		return
	}
	if domain != "" {
		if _, ok := a.views.Auth.Domain(domain); !ok {
			a.writeError(w, r, notFoundf("no domain %q", domain))
			return
		}
	}
	limit, err := listLimit(r.URL.Query())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	after := r.URL.Query().Get("after")
	keys := a.views.Auth.Keys(domain)
	out := make([]publicKey, 0, len(keys))
	for _, x := range keys {
		if x.AccessKey > after {
			out = append(out, publicKey{x.AccessKey, x.Role, x.Domain, x.Groups, x.Node, x.CreatedAt})
		}
	}
	writeList(a, w, r, out, limit, false, "after", func(k publicKey) string { return k.AccessKey })
}

// deleteKey: DELETE /v1/admin/keys/{accessKey}; ends the key's streams.
func (a *API) deleteKey(w http.ResponseWriter, r *http.Request) {
	k := caller(r)
	ak := r.PathValue("accessKey")
	if k.Role != herald.RoleSuperadmin && k.Role != herald.RoleAdmin {
		a.writeError(w, r, forbiddenf("a %s key cannot revoke keys", k.Role))
		return
	}
	ans, err := a.commit(r.Context(), r, k, func() (change, any, error) {
		target, ok := a.views.Auth.Key(ak)
		if !ok || !k.CanAdminister(target.Domain) {
			return change{}, nil, notFoundf("no key %q", ak)
		}
		if target.Role == herald.RoleSuperadmin {
			if k.Role != herald.RoleSuperadmin {
				return change{}, nil, notFoundf("no key %q", ak)
			}
			if a.superadmins() <= 1 {
				return change{}, nil, herald.Errorf(herald.EConflict, "%s is the last superadmin key; create another before revoking it", ak)
			}
		}
		return authChange(auth.KindKey, store.Subject("auth.key", ak), target, http.StatusNoContent, true), nil, nil
	})
	a.reply(w, r, ans, err)
}

func (a *API) superadmins() int {
	n := 0
	for _, k := range a.views.Auth.Keys("") {
		if k.Role == herald.RoleSuperadmin {
			n++
		}
	}
	return n
}
