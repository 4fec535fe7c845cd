package syncproto

import (
	"fmt"
	"strconv"
	"strings"

	"wardsync/workflow"
)

// ReleaseVersion is a workstation or server release, MAJOR.MINOR.PATCH.
// hello.clientVersion carries it as text; builds after a release tag carry
// git describe's suffix ("1.3.0-4-g497cf88"), which counts as that release.
type ReleaseVersion struct{ Major, Minor, Patch int }

func (v ReleaseVersion) String() string {
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
}

// Less orders releases.
func (v ReleaseVersion) Less(o ReleaseVersion) bool {
	if v.Major != o.Major {
		return v.Major < o.Major
	}
	if v.Minor != o.Minor {
		return v.Minor < o.Minor
	}
	return v.Patch < o.Patch
}

// ParseVersion reads "1.3.0", "v1.3.0" or "1.3.0-4-g497cf88" (the suffix,
// after '-' or '+', is ignored). "dev" and anything else is not a release.
func ParseVersion(s string) (ReleaseVersion, error) {
	core := strings.TrimPrefix(strings.TrimSpace(s), "v")
	if i := strings.IndexAny(core, "-+"); i >= 0 {
		core = core[:i]
	}
	parts := strings.Split(core, ".")
	bad := fmt.Errorf("version %q is not MAJOR.MINOR.PATCH such as 1.3.0", s)
	if len(parts) != 3 {
		return ReleaseVersion{}, bad
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 || p == "" || p[0] == '+' {
			return ReleaseVersion{}, bad
		}
		n[i] = v
	}
	return ReleaseVersion{n[0], n[1], n[2]}, nil
}

// CheckClientVersion refuses a workstation whose release is below min
// (nil: no minimum). A build that names no release ("dev", or a
// workstation from before versions were sent) cannot show it is recent
// enough, so a minimum refuses it too. The sentence is the one the
// workstation shows; IT acts on it.
func CheckClientVersion(have string, minimum *ReleaseVersion) *workflow.Rejection {
	if minimum == nil {
		return nil
	}
	v, err := ParseVersion(have)
	if err == nil && !v.Less(*minimum) {
		return nil
	}
	runs := have
	if runs == "" {
		runs = "an unknown version"
	}
	return workflow.Reject(workflow.CodeUpgradeRequired, "this workstation runs %s; the server needs %s or later: ask IT to update it", runs, minimum)
}
