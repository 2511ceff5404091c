package herald

import (
	"regexp"
	"strings"
	"testing"
)

var slugRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// FuzzValidSlug: ValidSlug agrees with the SPEC's regular expression.
func FuzzValidSlug(f *testing.F) {
	for _, s := range []string{"", "a", "A.b_c-9", ".a", "-a", "a b", "a\n", "é", "a/b", "a*", strings.Repeat("a", 64), strings.Repeat("a", 65)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ValidSlug(s), slugRE.MatchString(s); got != want {
			t.Fatalf("ValidSlug(%q) = %v, the expression says %v", s, got, want)
		}
	})
}
