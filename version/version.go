// Package version is what a wardsync binary says it is: the release and the
// commit it was built from. The Makefile sets both with
//
//	-ldflags "-X wardsync/version.Version=1.3.0 -X wardsync/version.Commit=497cf88"
//
// from `git describe`; a plain `go build` says "dev" and the commit Go
// recorded in the binary, if any. The package uses the standard library
// only, so every binary and every layer may ask it.
package version

import (
	"runtime/debug"
	"sync"
)

// Version is the release, such as "1.3.0", or "1.3.0-4-g497cf88" for a
// build four commits after it; "dev" when the build did not set it.
var Version = "dev"

// Commit is the git commit the binary was built from; empty when unknown.
var Commit = ""

var vcsOnce = sync.OnceValue(func() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" && dirty {
		rev += "-dirty"
	}
	return rev
})

// CommitOrVCS is Commit, or else the revision the Go toolchain stamped
// into the binary (go build inside a git checkout), or "unknown".
func CommitOrVCS() string {
	if Commit != "" {
		return Commit
	}
	if c := vcsOnce(); c != "" {
		return c
	}
	return "unknown"
}

// String is what `-version` prints: "1.3.0 (commit 497cf88)".
func String() string { return Version + " (commit " + CommitOrVCS() + ")" }
