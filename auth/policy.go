package auth

import "github.com/herald-sse/herald"

// The visibility policy of SPEC §3, §4, §5 and §6. Every feed and read asks
// one of these before it sends anything.

// SeesDomain reports whether k may read everything of a domain's feeds
// (admins of it, superadmins).
func (k *Key) SeesDomain(domain string) bool {
	return k.Role == herald.RoleSuperadmin || (k.Role == herald.RoleAdmin && k.Domain == domain)
}

// MemberOf reports whether k belongs to domain (superadmins belong to all).
func (k *Key) MemberOf(domain string) bool {
	return k.Role == herald.RoleSuperadmin || k.Domain == domain
}

// CanWatchTask: the owner, an admin of its domain, a superadmin, or the
// service key that created it.
func (k *Key) CanWatchTask(domain, owner, creator string) bool {
	return k.AccessKey == owner || k.SeesDomain(domain) || (k.Role == herald.RoleService && k.AccessKey == creator)
}

// CanWriteTask: the key that created the task, an admin of its domain, or
// a superadmin (issue 12: any other producer of the domain could report on
// — and read through the answer — a task it cannot see).
func (k *Key) CanWriteTask(domain, creator string) bool {
	return k.AccessKey == creator || k.SeesDomain(domain)
}

// CanProduce reports whether k may report sessions and tasks and start
// jobs in domain: service and admin keys of that domain, superadmins.
func (k *Key) CanProduce(domain string) bool {
	switch k.Role {
	case herald.RoleSuperadmin:
		return true
	case herald.RoleAdmin, herald.RoleService:
		return k.Domain == domain
	}
	return false
}

// SeesSession reports whether k may see a session of (domain, owner): a
// user its own, admins and service keys their domain's, superadmins all.
func (k *Key) SeesSession(domain, owner string) bool {
	switch k.Role {
	case herald.RoleSuperadmin:
		return true
	case herald.RoleAdmin, herald.RoleService:
		return k.Domain == domain
	case herald.RoleUser:
		return k.AccessKey == owner
	}
	return false
}

// CanAdminister reports whether k may manage domain's groups and keys.
func (k *Key) CanAdminister(domain string) bool { return k.SeesDomain(domain) }
