// Package version says which build of herald is running, from the
// information the Go toolchain stamps into every binary (module version,
// VCS revision, whether the tree was modified, Go version).
package version

import (
	"runtime"
	"runtime/debug"
)

// Info describes a build.
type Info struct {
	Version  string // module version: a tag, a pseudo-version, or "(devel)"
	Revision string // VCS commit, "" when not stamped
	Modified bool   // built from a tree with uncommitted changes
	Go       string // Go version it was built with
}

// revisionLen is how much of a commit hash String shows.
const revisionLen = 12

// Read returns this binary's build information.
func Read() Info {
	info := Info{Version: "(devel)", Go: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return info
	}
	if v := bi.Main.Version; v != "" {
		info.Version = v
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}

// String is one line: "v1.2.0 (revision 0123456789ab, go1.26.8)", with
// ", modified" when the tree had uncommitted changes.
func (i Info) String() string {
	s := i.Version + " ("
	if i.Revision != "" {
		rev := i.Revision
		if len(rev) > revisionLen {
			rev = rev[:revisionLen]
		}
		s += "revision " + rev
		if i.Modified {
			s += ", modified"
		}
		s += ", "
	}
	return s + i.Go + ")"
}
