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
//
// The key's access key is random, like any other (it was derived from the
// token's hash, which let anyone who saw it test guesses of the token):
// processes racing to create it agree through the store's duplicate
// detection instead (a message id derived from the token's hash, kept in
// the store only), and a restart finds the token's key by its hash.
func (a *API) Bootstrap(ctx context.Context, token string) (created string, err error) {
	defer func() {
		if err == nil {
			a.booted.Store(true)
		}
	}()
	now := time.Now().UTC()
	if _, ok := a.views.Auth.Domain(herald.DefaultDomain); !ok {
		if _, err := a.bootstrapAppend(ctx, authChange(auth.KindDomain, store.Subject("auth.domain", herald.DefaultDomain),
			auth.Domain{Name: herald.DefaultDomain, CreatedAt: now}, 0, false).app); err != nil {
			return "", err
		}
	}
	msgID := ""
	if token == "" {
		if a.views.Auth.HasSuperadmin() {
			return "", nil
		}
		token = auth.NewToken()
		msgID = "bootstrap:generated"
	} else if _, ok := a.views.Auth.ByToken(token); ok {
		return "", nil
	}
	h := auth.HashToken(token)
	if msgID == "" {
		msgID = "bootstrap:" + auth.HashToken(h)[:32]
	}
	k := auth.Key{AccessKey: auth.NewAccessKey(), Role: herald.RoleSuperadmin, Domain: herald.DefaultDomain,
		TokenHash: h, CreatedAt: now}
	app := authChange(auth.KindKey, store.Subject("auth.key", k.AccessKey), k, 0, false).app
	app.MsgID = msgID
	dup, err := a.bootstrapAppend(ctx, app)
	if err != nil {
		return "", err
	}
	if dup {
		return "", nil // another herald process created it first
	}
	return token, nil
}

// bootstrapAppend creates a subject once; losing the race to another herald
// process is fine. It reports whether the store had the append already (a
// duplicate of its message id).
func (a *API) bootstrapAppend(ctx context.Context, app store.Append) (bool, error) {
	ack, err := a.store.Commit(ctx, app)
	if errors.Is(err, store.ErrConflict) {
		return true, a.sync(ctx)
	}
	if err != nil {
		return false, err
	}
	return ack.Duplicate, a.views.WaitFor(ctx, ack.Seq)
}
