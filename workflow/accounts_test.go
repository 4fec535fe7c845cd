package workflow

import (
	"strings"
	"testing"
)

func TestCheckPassword(t *testing.T) {
	for _, pw := range []string{"12345", strings.Repeat("x", 73), ""} {
		err := CheckPassword(pw)
		r, ok := AsRejection(err)
		if !ok || r.Code != CodeValidationFailed || r.Field != "password" || r.Message != "A password needs 6 to 72 characters." {
			t.Errorf("%d characters: %v", len(pw), err)
		}
	}
	for _, pw := range []string{"123456", strings.Repeat("x", 72)} {
		if err := CheckPassword(pw); err != nil {
			t.Errorf("%d characters refused: %v", len(pw), err)
		}
	}
}

func TestAccountRules(t *testing.T) {
	for _, r := range Roles {
		if MayUseDashboard(r) != (r == RoleAdmin) {
			t.Errorf("MayUseDashboard(%s) = %v", r, MayUseDashboard(r))
		}
	}
	err := KeepsAnAdmin(RoleAdmin, true, 0)
	if r, ok := AsRejection(err); !ok || r.Code != CodeForbidden ||
		r.Message != "This is the last enabled ADMIN account; create or enable another administrator first." {
		t.Errorf("last admin: %v", err)
	}
	for _, c := range []struct {
		role    Role
		enabled bool
		others  int64
	}{{RoleAdmin, true, 1}, {RoleAdmin, false, 0}, {RoleNurse, true, 0}} {
		if err := KeepsAnAdmin(c.role, c.enabled, c.others); err != nil {
			t.Errorf("%+v refused: %v", c, err)
		}
	}
	if !Serves([]Role{RoleNurse, RoleDoctor}, RoleDoctor) || Serves([]Role{RoleNurse}, RoleDoctor) || Serves(nil, RoleAdmin) {
		t.Error("Serves")
	}
}

func TestCheckIdleLock(t *testing.T) {
	for _, tc := range []struct {
		name    string
		minutes int
		want    string // "" accepted
	}{
		{"off", 0, ""},
		{"shortest", 1, ""},
		{"longest", 120, ""},
		{"too long", 121, "The idle lock must be between 1 and 120 minutes, or 0 to turn it off; 121 is not."},
		{"negative", -5, "The idle lock must be between 1 and 120 minutes, or 0 to turn it off; -5 is not."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckIdleLock(tc.minutes)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			r, ok := AsRejection(err)
			if !ok || r.Code != CodeValidationFailed || r.Message != tc.want || r.Field != "minutes" {
				t.Fatalf("got %#v, want %s on minutes: %q", err, CodeValidationFailed, tc.want)
			}
		})
	}
}
