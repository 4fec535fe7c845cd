package workflow

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestReviewRules(t *testing.T) {
	at := time.Date(2026, 3, 10, 10, 42, 0, 0, time.UTC)
	const empty = "The reason must not be empty. Say in a few words why this rejected act needs nothing more."
	for _, tc := range []struct {
		name    string
		got     *Rejection
		code    Code
		message string
		field   string
	}{
		{"empty reason", CheckReason("note", ""), CodeValidationFailed, empty, "note"},
		{"blank reason", CheckReason("reason", " \t\n"), CodeValidationFailed, empty, "reason"},
		{"long reason", CheckReason("reason", strings.Repeat("é", 2001)), CodeValidationFailed,
			"The reason must be at most 2,000 characters long (got 2,001). Say in a few words why this rejected act needs nothing more.", "reason"},
		{"NUL in reason", CheckReason("reason", "a\x00b"), CodeValidationFailed, "The reason contains a NUL character (U+0000), which cannot be stored.", "reason"},
		{"unknown act", CanResolve(RejectedActState{DeviceID: "ward-1", Ref: "with seq 9"}), CodeNotFound,
			"Workstation ward-1 has no act with seq 9; only an act the server recorded as rejected can be resolved.", ""},
		{"applied act", CanResolve(RejectedActState{DeviceID: "ward-1", Found: true, Seq: 3, Outcome: "applied"}), CodeInvalidTransition,
			"Act 3 of workstation ward-1 was applied, not rejected; only a rejected act can be resolved.", ""},
		{"resolved twice", CanResolve(RejectedActState{DeviceID: "ward-1", Found: true, Seq: 3, Outcome: "rejected", ResolvedAt: &at, ResolvedBy: "Admin Test", Note: "done"}),
			CodeInvalidTransition, `Rejected act 3 of workstation ward-1 was already resolved by Admin Test at 2026-03-10 10:42 UTC ("done"); a resolution is made once.`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got == nil || tc.got.Code != tc.code || tc.got.Message != tc.message || tc.got.Field != tc.field {
				t.Fatalf("got %+v, want %s %q field %q", tc.got, tc.code, tc.message, tc.field)
			}
		})
	}
	t.Run("open rejected act may be resolved", func(t *testing.T) {
		if r := CanResolve(RejectedActState{DeviceID: "d", Found: true, Seq: 1, Outcome: "rejected"}); r != nil {
			t.Fatal(r)
		}
	})
}

func TestDecodeCloseRejected(t *testing.T) {
	for _, tc := range []struct {
		name, args string
		code       Code
		field      string
	}{
		{"ok", `{"id":"x","reason":"Patient left"}`, "", ""},
		{"unknown field", `{"id":"x","reason":"r","why":1}`, CodeValidationFailed, "why"},
		{"no id", `{"reason":"r"}`, CodeValidationFailed, "id"},
		{"no reason", `{"id":"x"}`, CodeValidationFailed, "reason"},
		{"blank reason", `{"id":"x","reason":"  "}`, CodeValidationFailed, "reason"},
		{"not an object", `[1]`, CodeValidationFailed, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, r := DecodeCloseRejected(json.RawMessage(tc.args))
			if tc.code == "" {
				if r != nil || a.ID != "x" || a.Reason != "Patient left" {
					t.Fatalf("%+v %v", a, r)
				}
				return
			}
			if r == nil || r.Code != tc.code || r.Field != tc.field || r.Message == "" {
				t.Fatalf("got %+v", r)
			}
		})
	}
}

// The bookkeeping act is not a clinical act: Apply refuses it.
func TestCloseRejectedIsNotAnAct(t *testing.T) {
	if !IsBookkeeping(CloseRejected) || IsBookkeeping("appointment.checkIn") {
		t.Fatal("IsBookkeeping")
	}
	for _, n := range Names() {
		if n == CloseRejected {
			t.Fatal("Names lists the bookkeeping act")
		}
	}
	_, err := Apply(context.Background(), nil, Mutation{ID: "m", Name: CloseRejected, Args: json.RawMessage(`{}`),
		Actor: Actor{ID: "u", Role: RoleNurse}, OccurredAt: time.Now()})
	if r, ok := AsRejection(err); !ok || r.Code != CodeUnknownMutation {
		t.Fatalf("Apply: %v", err)
	}
}
