package version

import (
	"runtime"
	"testing"
)

func TestString(t *testing.T) {
	for _, tc := range []struct {
		in   Info
		want string
	}{
		{Info{Version: "v1.2.0", Revision: "0123456789abcdef0123", Go: "go1.26.8"}, "v1.2.0 (revision 0123456789ab, go1.26.8)"},
		{Info{Version: "(devel)", Revision: "abc", Modified: true, Go: "go1.26.8"}, "(devel) (revision abc, modified, go1.26.8)"},
		{Info{Version: "(devel)", Go: "go1.26.8"}, "(devel) (go1.26.8)"},
	} {
		if got := tc.in.String(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
	if r := Read(); r.Go != runtime.Version() || r.Version == "" {
		t.Fatalf("Read: %+v", r)
	}
}
