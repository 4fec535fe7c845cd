package workflow

import (
	"encoding/json"
	"strconv"
	"time"
)

// The review queue of rejected acts (docs/review-queue.md). A rejected act is
// kept for ever and stays "unresolved" until someone resolves it: closes it
// with a written reason, or re-issues it adapted as a new act linked to it.
// These are the rules of resolving; the server and the workstation both
// call them, so both say the same thing.

// CloseRejected is the workstation's bookkeeping act that closes one of its
// own rejected acts with a written reason. It travels in the outbox and the
// push like an act (so it queues while offline and is applied exactly
// once, with its author), but it is not a clinical act: Apply refuses it
// (UNKNOWN_MUTATION), Names does not list it, and it changes no seed row.
const CloseRejected = "rejected.close"

// MaxReasonChars bounds a resolution's reason.
const MaxReasonChars = 2000

// IsBookkeeping reports whether name is a bookkeeping act (not a clinical
// act run by Apply).
func IsBookkeeping(name string) bool { return name == CloseRejected }

// CloseRejectedArgs are rejected.close's arguments: the rejected act's
// mutation id (on the same workstation) and why it is closed.
type CloseRejectedArgs struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// DecodeCloseRejected reads rejected.close's arguments strictly (unknown
// fields are refused, like any act's).
func DecodeCloseRejected(raw json.RawMessage) (CloseRejectedArgs, *Rejection) {
	o, r := decodeObject(raw, "", "The arguments", []string{"id", "reason"})
	if r != nil {
		return CloseRejectedArgs{}, r
	}
	var a CloseRejectedArgs
	a.ID, _ = o.text("id", "The rejected act's id", 1, 128, true)
	a.Reason, _ = o.str("reason", "The reason", true)
	if o.err != nil {
		return CloseRejectedArgs{}, o.err
	}
	if r := CheckReason("reason", a.Reason); r != nil {
		return CloseRejectedArgs{}, r
	}
	return a, nil
}

// CheckReason vets the written reason of a resolution: required, not
// blank, at most MaxReasonChars characters. field names it in the
// rejection ("reason" from a workstation, "note" from the dashboard).
func CheckReason(field, reason string) *Rejection {
	if r := checkJSONTextString(reason); r != "" {
		return invalid(field, "The reason %s.", r)
	}
	if r := checkLength(field, "The reason", reason, 1, MaxReasonChars); r != nil {
		r.Message += " Say in a few words why this rejected act needs nothing more."
		return r
	}
	return nil
}

// checkJSONTextString is checkJSONText for a decoded string.
func checkJSONTextString(s string) string {
	b, _ := json.Marshal(s)
	return checkJSONText(b)
}

// RejectedActState is what a resolver needs to know of the act it resolves.
type RejectedActState struct {
	DeviceID string
	Ref      string // how the caller named the act: a seq or a mutation id
	Found    bool
	Outcome  string // "applied" or "rejected"
	Seq      int64
	// set when already resolved
	ResolvedAt *time.Time
	ResolvedBy string
	Note       string
}

// CanResolve says whether the act may be resolved now: it must exist, have
// been rejected, and not be resolved already (a resolution is never
// overwritten: the first one is the record).
func CanResolve(s RejectedActState) *Rejection {
	switch {
	case !s.Found:
		return Reject(CodeNotFound, "Workstation %s has no act %s; only an act the server recorded as rejected can be resolved.", s.DeviceID, s.Ref)
	case s.Outcome != "rejected":
		return Reject(CodeInvalidTransition, "Act %d of workstation %s was %s, not rejected; only a rejected act can be resolved.", s.Seq, s.DeviceID, s.Outcome)
	case s.ResolvedAt != nil:
		by := s.ResolvedBy
		if by == "" {
			by = "someone"
		}
		return Reject(CodeInvalidTransition, "Rejected act %d of workstation %s was already resolved by %s at %s (%q); a resolution is made once.",
			s.Seq, s.DeviceID, by, s.ResolvedAt.UTC().Format("2006-01-02 15:04 UTC"), s.Note)
	}
	return nil
}

// ReissueNote is the resolution note of a rejected act re-issued as the
// act seq of device.
func ReissueNote(device string, seq int64) string {
	return "Re-issued as " + device + "/" + strconv.FormatInt(seq, 10) + "."
}
