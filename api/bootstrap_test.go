package api_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/internal/testutil"
)

// superadmins returns the superadmin keys whose token hash is h.
func superadmins(s *testutil.Server, h string) []auth.Key {
	var out []auth.Key
	for _, k := range s.API.Views().Auth.Keys("") {
		if k.Role == herald.RoleSuperadmin && k.TokenHash == h {
			out = append(out, k)
		}
	}
	return out
}

// TestBootstrapAccessKeyRandom: the bootstrap superadmin's access key is
// random, not derived from the token (issue 12: "HKBOOT" + 56 bits of the
// token's unsalted SHA-256 let anyone holding the access key test guesses
// of the token); restarts with the same token create no second key and do
// not fail; processes racing to bootstrap one token create it once.
func TestBootstrapAccessKeyRandom(t *testing.T) {
	s := testutil.Start(t)
	h := auth.HashToken(testutil.BootstrapToken)
	keys := superadmins(s, h)
	if len(keys) != 1 {
		t.Fatalf("%d bootstrap keys, want 1", len(keys))
	}
	ak := keys[0].AccessKey
	if strings.HasPrefix(ak, "HKBOOT") || strings.Contains(strings.ToLower(ak), h[:8]) {
		t.Fatalf("the bootstrap access key %s is derived from the token's hash %s…", ak, h[:14])
	}
	for i := 0; i < 2; i++ {
		s.Restart(t)
		if keys := superadmins(s, h); len(keys) != 1 || keys[0].AccessKey != ak {
			t.Fatalf("after restart %d: bootstrap keys %+v, want only %s", i+1, keys, ak)
		}
	}
	if _, err := s.Admin().Domains(context.Background()); err != nil {
		t.Fatalf("the bootstrap token after restarts: %v", err)
	}

	// Racing bootstraps of a new token (as several herald processes
	// sharing a store at first start) create one key.
	token := auth.NewToken()
	var wg sync.WaitGroup
	created := make([]string, 4)
	errs := make([]error, 4)
	for i := range created {
		wg.Add(1)
		go func() {
			defer wg.Done()
			created[i], errs[i] = s.API.Bootstrap(context.Background(), token)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := len(superadmins(s, auth.HashToken(token))); n != 1 {
		t.Fatalf("racing bootstraps created %d keys, want 1 (created %q)", n, created)
	}
}
