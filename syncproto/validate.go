package syncproto

import (
	"slices"
	"time"

	"wardsync/workflow"
)

// validator collects the first problem with a frame's values. The same rules
// run in Decode (on what arrived) and Encode (on what is about to leave).
type validator struct {
	frame string // "" when checking a lone mutation
	// checkRaw re-checks raw JSON members. Decode has already scanned them
	// with the frame; Encode has not.
	checkRaw bool
	// list and idx locate the element being checked ("mutations", 2), so
	// that a path is only built for an error.
	list string
	idx  int
	// page is the changes frame being checked, whose projected rows
	// (AddProjected) need only their nesting checked.
	page *Changes
	err  *workflow.Rejection
}

func (v *validator) path(field string) string {
	if v.list != "" {
		field = loc{list: v.list, idx: v.idx, name: field}.String()
	}
	if v.frame == "" {
		return field
	}
	return v.frame + "." + field
}

func (v *validator) enter(list string, idx int) { v.list, v.idx = list, idx }
func (v *validator) leave()                     { v.list = "" }

func (v *validator) protocol(format string, a ...any) {
	if v.err == nil {
		v.err = workflow.Reject(workflow.CodeProtocolError, format, a...)
	}
}

func (v *validator) invalid(field, format string, a ...any) {
	if v.err == nil {
		v.err = workflow.Reject(workflow.CodeValidationFailed, v.path(field)+" "+format, a...)
		if v.list != "" {
			field = loc{list: v.list, idx: v.idx, name: field}.String()
		}
		v.err.Field = field
	}
}

// token checks an opaque identifier. Printable ASCII keeps ids, cursors and
// tokens safe to log and to put in a URL or a header.
func (v *validator) token(field, s string, max int, mayBeEmpty bool) {
	if s == "" {
		if !mayBeEmpty {
			v.invalid(field, "must not be empty")
		}
		return
	}
	if len(s) > max {
		v.invalid(field, "is %d bytes long; at most %d are allowed", len(s), max)
		return
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			v.invalid(field, "must be printable ASCII without spaces, got %s", quoteString(clip(s)))
			return
		}
	}
}

func (v *validator) requestID(s string, optional bool) {
	v.token("requestId", s, MaxIDBytes, optional)
}

func (v *validator) code(field string, c Code) {
	if !validCode(c) {
		v.invalid(field, "must be a code such as \"PROTOCOL_ERROR\", got %s", quoteString(clip(string(c))))
	}
}

func validCode(c Code) bool {
	if c == "" || len(c) > MaxIDBytes || c[0] < 'A' || c[0] > 'Z' {
		return false
	}
	for i := 0; i < len(c); i++ {
		if b := c[i]; !(b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_') {
			return false
		}
	}
	return true
}

var (
	minTime = time.Unix(0, 0).UTC()
	maxTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
)

// when bounds times to what RFC 3339 can spell in UTC and what PostgreSQL's
// TIMESTAMP(3) stores sensibly; the epoch also catches an unset clock.
func (v *validator) when(field string, t time.Time) {
	if t.Before(minTime) || !t.Before(maxTime) {
		v.invalid(field, "must be a time between 1970 and 9999, got %s", t.UTC().Format(time.RFC3339Nano))
	}
}

func (v *validator) nonNegative(field string, n int64) {
	if n < 0 {
		v.invalid(field, "must not be negative, got %d", n)
	}
}

// pending checks the monitoring pair: a queue has an oldest entry exactly
// when it is not empty.
func (v *validator) pending(n int64, oldest *time.Time) {
	v.nonNegative("pending", n)
	switch {
	case n > 0 && oldest == nil:
		v.invalid("oldestPendingAt", "is required when pending is %d", n)
	case n == 0 && oldest != nil:
		v.invalid("oldestPendingAt", "must be omitted when pending is 0")
	case oldest != nil:
		v.when("oldestPendingAt", *oldest)
	}
}

// raw checks an embedded JSON object. It sits at depth 4 in every frame:
// frame, array, element, value.
func (v *validator) raw(field string, raw []byte) {
	if raw == nil {
		v.invalid(field, "must be a JSON object")
		return
	}
	if v.checkRaw {
		if v.page != nil && v.list == "changes" && v.page.projectedRow(v.idx) && raw[0] == '{' && nestsWithin(raw, 4) {
			return
		}
		if problem := checkRawObject(raw, 4); problem != "" {
			v.invalid(field, "%s", problem)
		}
	}
}

func (f *Hello) validate(v *validator) {
	v.requestID(f.RequestID, false)
	if f.Protocol != Version {
		if f.Protocol == 1 {
			v.protocol("protocol version 1 (acts carrying the author's bearer token) is no longer supported; this server speaks %d (signed acts, device proof): update the workstation", Version)
		} else {
			v.protocol("protocol version %d is not supported; this server speaks %d", f.Protocol, Version)
		}
	}
	v.token("deviceId", f.DeviceID, MaxIDBytes, false)
	v.token("cursor", f.Cursor, MaxCursorBytes, true)
	v.nonNegative("lastMutationSeq", f.LastMutationSeq)
	v.pending(f.Pending, f.OldestPendingAt)
	v.token("clientVersion", f.ClientVersion, MaxIDBytes, true)
}

func (f *Push) validate(v *validator) {
	v.requestID(f.RequestID, false)
	v.batch("push", "mutations", len(f.Mutations), "the seqs of a push are consecutive", func(i int) int64 {
		f.Mutations[i].validate(v)
		return f.Mutations[i].Seq
	})
}

// batch checks the n items of a push or of its result: 1 to
// MaxPushMutations of them, each valid (item checks the i-th and returns its
// seq), their seqs consecutive (why says so in the refusal).
func (v *validator) batch(frame, field string, n int, why string, item func(i int) int64) {
	switch {
	case n == 0:
		v.protocol("%s carries no %s; it must carry 1 to %d", frame, field, MaxPushMutations)
		return
	case n > MaxPushMutations:
		v.protocol("%s carries %d %s; at most %d are allowed", frame, n, field, MaxPushMutations)
		return
	}
	var prev int64
	for i := range n {
		v.enter(field, i)
		seq := item(i)
		v.leave()
		if i > 0 && v.err == nil && seq != prev+1 {
			v.protocol("%s.%s[%d].seq is %d but must be %d: %s", v.frame, field, i, seq, prev+1, why)
		}
		prev = seq
	}
}

// Validate checks one mutation the way Decode checks each mutation of a
// push. A workstation calls it before queueing an act: a queued mutation the
// server cannot decode would block every mutation after it.
func (m *Mutation) Validate() error {
	v := validator{checkRaw: true}
	m.validate(&v)
	if v.err != nil {
		return v.err
	}
	return nil
}

func (m *Mutation) validate(v *validator) {
	if m.Seq < 1 {
		v.invalid("seq", "must be a positive integer, got %d", m.Seq)
	}
	if !workflow.IsUUID(m.ID) {
		v.invalid("id", "must be a lowercase UUID such as \"0f8fad5b-d9cb-469f-a165-70867728950e\", got %s",
			quoteString(clip(m.ID)))
	}
	v.token("name", m.Name, MaxNameBytes, false)
	v.raw("args", m.Args)
	v.when("occurredAt", m.OccurredAt)
	v.token("sessionId", m.SessionID, MaxIDBytes, true)
	v.token("signature", m.Signature, MaxIDBytes, true)
	if m.ReissueOf != "" && !workflow.IsUUID(m.ReissueOf) {
		v.invalid("reissueOf", "must be the rejected act's mutation id, a lowercase UUID, got %s", quoteString(clip(m.ReissueOf)))
	}
	v.token("authorId", m.AuthorID, MaxIDBytes, false)
	v.hash("prevHash", m.PrevHash, false)
	v.hash("hash", m.Hash, false)
}

// hash checks a chain hash: 64 lowercase hex digits.
func (v *validator) hash(field, s string, mayBeEmpty bool) {
	if s == "" && mayBeEmpty {
		return
	}
	if !ValidHash(s) {
		v.invalid(field, "must be a SHA-256 hash in 64 lowercase hex digits, got %s", quoteString(clip(s)))
	}
}

func (f *Pull) validate(v *validator) {
	v.requestID(f.RequestID, false)
	v.token("cursor", f.Cursor, MaxCursorBytes, true)
	if f.Limit < 0 || f.Limit > MaxPullLimit {
		v.invalid("limit", "must be between 1 and %d, or omitted, got %d", MaxPullLimit, f.Limit)
	}
}

func (f *Report) validate(v *validator) {
	v.requestID(f.RequestID, true)
	v.pending(f.Pending, f.OldestPendingAt)
}

func (f *Welcome) validate(v *validator) {
	v.requestID(f.RequestID, false)
	v.when("serverTime", f.ServerTime)
	v.token("head", f.Head, MaxCursorBytes, false)
	v.nonNegative("lastMutationSeq", f.LastMutationSeq)
	v.hash("chainHead", f.ChainHead, true)
	if len(f.Roles) == 0 {
		v.invalid("roles", "must list at least one role")
	}
	for i, r := range f.Roles {
		field := loc{list: "roles", idx: i}.String()
		switch {
		case !r.Valid():
			v.invalid(field, "must be one of %v, got %s", workflow.Roles, quoteString(clip(string(r))))
		case slices.Contains(f.Roles[:i], r):
			v.invalid(field, "repeats the role %s", r)
		}
	}
}

func (f *PushResult) validate(v *validator) {
	v.requestID(f.RequestID, false)
	v.batch("pushResult", "results", len(f.Results), "results follow the push's consecutive seqs", func(i int) int64 {
		f.Results[i].validate(v)
		return f.Results[i].Seq
	})
}

func (r *MutationResult) validate(v *validator) {
	if r.Seq < 1 {
		v.invalid("seq", "must be a positive integer, got %d", r.Seq)
	}
	switch r.Status {
	case StatusRejected:
		v.code("code", r.Code)
		if r.Message == "" {
			v.invalid("message", "must say why the mutation was rejected")
		}
	case StatusApplied:
		if r.Code != "" || r.Message != "" || r.Field != "" {
			v.invalid("code", "must be omitted, with message and field, when status is applied")
		}
	case StatusDeferred:
		if r.Code != "" || r.Field != "" {
			v.invalid("code", "must be omitted, with field, when status is deferred: the act is not refused")
		}
	case StatusDuplicate:
		// Either the first outcome was applied (nothing to repeat) or it was
		// a rejection, repeated whole.
		if r.Code != "" || r.Message != "" || r.Field != "" {
			v.code("code", r.Code)
			if r.Message == "" {
				v.invalid("message", "must repeat the first rejection's message")
			}
		}
	default:
		v.invalid("status", "must be \"applied\", \"rejected\", \"deferred\" or \"duplicate\", got %s",
			quoteString(clip(string(r.Status))))
	}
	r.validateWait(v)
}

// validateWait: a deferred result says what it waits for, whole; any other
// carries no wait, except a duplicate repeating a still parked act.
func (r *MutationResult) validateWait(v *validator) {
	has := r.WaitingFor != "" || r.WaitTable != "" || r.WaitID != "" || r.WaitState != ""
	switch {
	case r.Status == StatusDeferred || (r.Status == StatusDuplicate && has && r.Code == ""):
		if r.WaitingFor == "" {
			v.invalid("waitingFor", "must say what a deferred act waits for")
		}
		if !slices.Contains(workflow.Tables, r.WaitTable) {
			v.invalid("waitTable", "must be one of %v, got %s", workflow.Tables, quoteString(clip(r.WaitTable)))
		}
		v.token("waitId", r.WaitID, MaxIDBytes, false)
		v.token("waitState", r.WaitState, MaxIDBytes, false)
	case has:
		v.invalid("waitingFor", "must be omitted, with waitTable, waitId and waitState, unless the act is deferred")
	}
}

func (o *Outcome) validate(v *validator) {
	if o.Seq < 1 {
		v.invalid("seq", "must be a positive integer, got %d", o.Seq)
	}
	v.token("id", o.ID, MaxIDBytes, false)
	switch o.Status {
	case StatusApplied:
		if o.Code != "" || o.Message != "" || o.Field != "" {
			v.invalid("code", "must be omitted, with message and field, when status is applied")
		}
	case StatusRejected:
		v.code("code", o.Code)
		if o.Message == "" {
			v.invalid("message", "must say why the mutation was rejected")
		}
	default:
		v.invalid("status", "must be \"applied\" or \"rejected\", got %s", quoteString(clip(string(o.Status))))
	}
}

// validateList checks one list member of a changes frame: at most
// MaxPullLimit items, each valid. False when the list is too long.
func validateList[T any, P interface {
	*T
	validate(*validator)
}](v *validator, name string, items []T) bool {
	if n := len(items); n > MaxPullLimit {
		v.protocol("changes carries %d %s; at most %d are allowed", n, name, MaxPullLimit)
		return false
	}
	for i := range items {
		v.enter(name, i)
		P(&items[i]).validate(v)
		v.leave()
	}
	return true
}

func (f *Changes) validate(v *validator) {
	// An answer to a pull carries its requestId; a pushed page carries
	// from instead: exactly one of them.
	switch {
	case f.RequestID == "" && f.From == "":
		v.protocol("%s must carry requestId (an answer to a pull) or from (a pushed page)", v.frame)
	case f.RequestID != "" && f.From != "":
		v.protocol("%s carries both requestId and from; a pushed page answers no pull", v.frame)
	case f.From != "":
		v.token("from", f.From, MaxCursorBytes, false)
	default:
		v.requestID(f.RequestID, false)
	}
	v.token("cursor", f.Cursor, MaxCursorBytes, false)
	v.nonNegative("lastMutationSeq", f.LastMutationSeq)
	// A member too long is refused whole; nothing after it is checked.
	v.page = f
	defer func() { v.page = nil }()
	if !validateList(v, "changes", f.Changes) || !validateList(v, "outcomes", f.Outcomes) ||
		!validateList(v, "resolutions", f.Resolutions) {
		return
	}
	v.nonNegative("total", f.Total)
	v.nonNegative("sent", f.Sent)
	if f.Sent > f.Total {
		v.invalid("sent", "is %d but total is only %d", f.Sent, f.Total)
	}
}

func (c *Change) validate(v *validator) {
	if !slices.Contains(workflow.Tables, c.Table) {
		v.invalid("table", "must be one of %v, got %s", workflow.Tables, quoteString(clip(c.Table)))
	}
	v.token("id", c.ID, MaxIDBytes, false)
	switch c.Op {
	case OpUpsert:
		v.raw("row", c.Row)
	case OpDelete:
		if c.Row != nil {
			v.invalid("row", "must be omitted for a delete")
		}
	default:
		v.invalid("op", "must be \"upsert\" or \"delete\", got %s", quoteString(clip(string(c.Op))))
	}
}

func (r *Resolution) validate(v *validator) {
	if !workflow.IsUUID(r.ID) {
		v.invalid("id", "must be the rejected act's mutation id, a lowercase UUID, got %s", quoteString(clip(r.ID)))
	}
	if r.Seq < 1 {
		v.invalid("seq", "must be a positive integer, got %d", r.Seq)
	}
	switch r.Kind {
	case ResolutionClosed:
		if r.ReissuedAs != "" {
			v.invalid("reissuedAs", "must be omitted when kind is closed")
		}
	case ResolutionReissued:
		if r.ReissuedAs == "" {
			v.invalid("reissuedAs", "must name the re-issue (device/seq) when kind is reissued")
		}
	default:
		v.invalid("kind", "must be \"closed\" or \"reissued\", got %s", quoteString(clip(r.Kind)))
	}
	v.when("resolvedAt", r.ResolvedAt)
}

func (f *Poke) validate(v *validator) {
	v.token("head", f.Head, MaxCursorBytes, false)
}

func (f *Error) validate(v *validator) {
	v.requestID(f.RequestID, true)
	v.code("code", f.Code)
	if f.Message == "" {
		v.invalid("message", "must not be empty")
	}
}
