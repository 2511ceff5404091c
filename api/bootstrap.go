package api

import (
	"context"
	"errors"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/store"
)

// Bootstrap makes sure the default domain exists and a superadmin can log
// in. With token set, a superadmin key with that token exists afterwards
// (created once, even by several herald processes racing). Without it, a
// token is generated only when the store has no superadmin at all. It
// returns the token it created ("" when it created none). Call it after the
// views caught up (WaitReady); /readyz answers 200 only after it.
func (a *API) Bootstrap(ctx context.Context, token string) (created string, err error) {
	defer func() {
		if err == nil {
			a.booted.Store(true)
		}
	}()
	now := time.Now().UTC()
	if _, ok := a.views.Auth.Domain(herald.DefaultDomain); !ok {
		if err := a.bootstrapAppend(ctx, authChange(auth.KindDomain, store.Subject("auth.domain", herald.DefaultDomain),
			auth.Domain{Name: herald.DefaultDomain, CreatedAt: now}, 0, false).app); err != nil {
			return "", err
		}
	}
	if token == "" {
		if a.views.Auth.HasSuperadmin() {
			return "", nil
		}
		token = auth.NewToken()
	} else if _, ok := a.views.Auth.ByToken(token); ok {
		return "", nil
	}
	h := auth.HashToken(token)
	k := auth.Key{AccessKey: auth.BootstrapAccessKey(h), Role: herald.RoleSuperadmin, Domain: herald.DefaultDomain,
		TokenHash: h, CreatedAt: now}
	if err := a.bootstrapAppend(ctx, authChange(auth.KindKey, store.Subject("auth.key", k.AccessKey), k, 0, false).app); err != nil {
		return "", err
	}
	return token, nil
}

// bootstrapAppend creates a subject once; losing the race to another herald
// process is fine.
func (a *API) bootstrapAppend(ctx context.Context, app store.Append) error {
	ack, err := a.store.Commit(ctx, app)
	if errors.Is(err, store.ErrConflict) {
		return a.sync(ctx)
	}
	if err != nil {
		return err
	}
	return a.views.WaitFor(ctx, ack.Seq)
}
