package syncproto

import (
	"testing"

	"wardsync/workflow"
)

func TestCheckClientVersion(t *testing.T) {
	min, err := ParseVersion("1.3.0")
	if err != nil {
		t.Fatal(err)
	}
	for _, ok := range []string{"1.3.0", "v1.3.0", "1.3.0-4-g497cf88", "1.3.1", "1.10.0", "2.0.0"} {
		if r := CheckClientVersion(ok, &min); r != nil {
			t.Errorf("%s refused: %v", ok, r)
		}
	}
	for have, want := range map[string]string{
		"1.2.0":  "this workstation runs 1.2.0; the server needs 1.3.0 or later: ask IT to update it",
		"1.2.99": "this workstation runs 1.2.99; the server needs 1.3.0 or later: ask IT to update it",
		"0.9.0":  "this workstation runs 0.9.0; the server needs 1.3.0 or later: ask IT to update it",
		"dev":    "this workstation runs dev; the server needs 1.3.0 or later: ask IT to update it",
		"":       "this workstation runs an unknown version; the server needs 1.3.0 or later: ask IT to update it",
	} {
		r := CheckClientVersion(have, &min)
		if r == nil || r.Code != workflow.CodeUpgradeRequired || r.Message != want {
			t.Errorf("%q: got %v, want UPGRADE_REQUIRED: %s", have, r, want)
		}
	}
	if r := CheckClientVersion("dev", nil); r != nil {
		t.Errorf("no minimum refused dev: %v", r)
	}
	for _, bad := range []string{"", "dev", "1.3", "1.3.x", "1..3", "a.b.c", "1.3.0.1"} {
		if _, err := ParseVersion(bad); err == nil {
			t.Errorf("ParseVersion(%q) accepted", bad)
		}
	}
	// The refusal travels as a fatal error frame with its sentence intact.
	f := ErrorFrame("r-1", CheckClientVersion("1.2.0", &min), true)
	if f.Code != workflow.CodeUpgradeRequired || !f.Fatal || f.Message == "internal server error" {
		t.Errorf("error frame: %+v", f)
	}
	if _, err := Encode(f); err != nil {
		t.Errorf("encode: %v", err)
	}
	var _ workflow.Code = workflow.CodeUpgradeRequired
}
