package syncproto

import (
	"bytes"
	"encoding/json"
	"time"

	"wardsync/workflow"
)

// Version is the protocol version this package speaks; hello.protocol must equal it.
const Version = 2

// Limits. Every one of them is enforced by Decode and by Encode, so that a
// peer never sends what the other side would refuse.
const (
	// MaxFrameBytes bounds one encoded frame.
	MaxFrameBytes = 1 << 20
	// MaxDepth bounds JSON nesting (the frame object itself is level 1).
	MaxDepth = 64
	// MaxPushMutations bounds the mutations of one push.
	MaxPushMutations = 1000
	// MaxPullLimit bounds pull.limit and the changes of one changes frame.
	MaxPullLimit = 1000
	// MaxIDBytes bounds requestId, deviceId, a change's id and a code.
	MaxIDBytes = 128
	// MaxCursorBytes bounds cursor and head.
	MaxCursorBytes = 1024
	// MaxTokenBytes bounds an opaque token.
	MaxTokenBytes = 1024
	// MaxNameBytes bounds a mutation name.
	MaxNameBytes = 64
)

// Code is workflow's code type: the wire carries the same codes the
// mutators produce, so there is deliberately no second code type.
type Code = workflow.Code

// Frame type names, the value of every frame's "type" field.
const (
	TypeHello      = "hello"
	TypePush       = "push"
	TypePull       = "pull"
	TypeReport     = "report"
	TypeWelcome    = "welcome"
	TypePushResult = "pushResult"
	TypeChanges    = "changes"
	TypePoke       = "poke"
	TypeError      = "error"
)

// Frame is one websocket message. The set is closed: only this package's
// frame types implement it, so a type switch over Decode's result can be
// exhaustive.
type Frame interface {
	// FrameType is the frame's "type" on the wire.
	FrameType() string
	// MarshalJSON writes the frame with its "type", unchecked; Encode is
	// the checked way.
	json.Marshaler
	// fromClient says which side may send the frame.
	fromClient() bool
	validate(v *validator)
}

// Hello opens a session (client → server). It must be the first frame.
type Hello struct {
	RequestID string `json:"requestId"`
	Protocol  int    `json:"protocol"`
	DeviceID  string `json:"deviceId"`
	Cursor    string `json:"cursor"`
	// LastMutationSeq is the highest seq this workstation has ever assigned
	// (0 if none), so that the server can see a workstation that lost its
	// state (restored backup, reinstall) and monitoring can show the backlog.
	LastMutationSeq int64      `json:"lastMutationSeq"`
	Pending         int64      `json:"pending"`
	OldestPendingAt *time.Time `json:"oldestPendingAt,omitempty"`
	// ClientVersion is the workstation's release ("1.3.0"; "dev" for an
	// unreleased build), shown on the dashboard and checked against the
	// server's minimum (CheckClientVersion). Absent from workstations
	// built before it existed.
	ClientVersion string `json:"clientVersion,omitempty"`
	// Pages says the workstation takes pushed pages: a changes frame the
	// server sends unasked, with From set, when the device is at the head
	// (docs/protocol.md, "Pushed pages"). Without it the server only pokes.
	Pages bool `json:"pages,omitempty"`
}

// Push uploads queued mutations (client → server).
type Push struct {
	RequestID string     `json:"requestId"`
	Mutations []Mutation `json:"mutations"`
}

// Mutation is one queued act as it travels. Args stays raw because only
// the mutator named by Name knows its shape (and decodes it strictly).
type Mutation struct {
	Seq        int64           `json:"seq"`
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Args       json.RawMessage `json:"args"`
	OccurredAt time.Time       `json:"occurredAt"`
	// SessionID and Signature (protocol 2, sign.go) replace version 1's
	// authorToken: the author's session, and its key's signature over the
	// act's hash. The server refuses an act without them UNAUTHENTICATED
	// (not at decoding: one unsigned act must not refuse its whole push).
	SessionID string `json:"sessionId"`
	Signature string `json:"signature"`
	// ReissueOf links an act entered from a rejected one ("copy into a new
	// entry") to it: the rejected act's mutation id, on the same device.
	// When this act is applied, the server resolves the rejected one
	// ("re-issued as device/seq") and the audit log shows the link both ways.
	ReissueOf string `json:"reissueOf,omitempty"`
	// AuthorID is the user id of the author as the workstation knows it;
	// the server refuses the act unless sessionId is that user's session.
	AuthorID string `json:"authorId"`
	// PrevHash and Hash chain the device's acts (chain.go): Hash covers
	// the act's content and PrevHash, the Hash of the device's previous act.
	PrevHash string `json:"prevHash"`
	Hash     string `json:"hash"`
}

// Pull asks for the changes after a cursor (client → server).
type Pull struct {
	RequestID string `json:"requestId"`
	Cursor    string `json:"cursor"`
	// Limit caps the changes in the reply; 0 lets the server choose.
	Limit int `json:"limit,omitempty"`
}

// Report tells the server how much the workstation still has to upload,
// for monitoring only. It has no reply.
type Report struct {
	RequestID       string     `json:"requestId,omitempty"`
	Pending         int64      `json:"pending"`
	OldestPendingAt *time.Time `json:"oldestPendingAt,omitempty"`
}

// Welcome accepts a hello (server → client).
type Welcome struct {
	RequestID  string    `json:"requestId"`
	ServerTime time.Time `json:"serverTime"`
	Head       string    `json:"head"`
	// LastMutationSeq is the highest seq of this device the server has
	// recorded (applied or rejected).
	LastMutationSeq int64           `json:"lastMutationSeq"`
	DeviceName      string          `json:"deviceName,omitempty"`
	Roles           []workflow.Role `json:"roles"`
	// ChainHead is the hash of the device's last act the server recorded,
	// absent before its first. A workstation that renumbers its queue
	// (restored backup) re-chains it from here.
	ChainHead string `json:"chainHead,omitempty"`
	// IdleLockSet says an administrator set this workstation's idle lock
	// on the dashboard: IdleLockMinutes holds it (0: never). Absent, the
	// workstation's own -idle-lock holds.
	IdleLockSet     bool `json:"idleLockSet,omitempty"`
	IdleLockMinutes int  `json:"idleLockMinutes,omitempty"`
}

// SetIdleLock puts the dashboard's idle lock (nil: none set) in the welcome.
func (w *Welcome) SetIdleLock(minutes *int) {
	w.IdleLockSet, w.IdleLockMinutes = idleLockFields(minutes)
}

// IdleLock is the dashboard's idle lock the welcome carries, nil for none.
func (w *Welcome) IdleLock() *int { return idleLock(w.IdleLockSet, w.IdleLockMinutes) }

// PushResult answers a push, one result per mutation in seq order (server → client).
type PushResult struct {
	RequestID string           `json:"requestId"`
	Results   []MutationResult `json:"results"`
}

// Status is the outcome of one pushed mutation.
type Status string

const (
	StatusApplied  Status = "applied"
	StatusRejected Status = "rejected"
	// StatusDuplicate: the server already had this seq and did nothing now.
	// Code, Message and Field repeat the first outcome when that was a
	// rejection, so a client that lost the first reply still learns it.
	StatusDuplicate Status = "duplicate"
	// StatusDeferred: the act came before its predecessor (vitals on an
	// appointment not yet checked in). The server parked it: nothing is
	// applied yet, the seq advanced, and the final outcome comes later in
	// a changes frame's outcomes. See docs/deferred.md.
	StatusDeferred Status = "deferred"
)

// MutationResult is the outcome of one pushed mutation.
type MutationResult struct {
	Seq     int64  `json:"seq"`
	Status  Status `json:"status"`
	Code    Code   `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	Field   string `json:"field,omitempty"`
	// For StatusDeferred (and a duplicate of a still parked act): what the
	// act waits for, as workflow.Wait says it. WaitingFor is the sentence
	// shown to the user ("waiting for check-in at reception"); the row
	// (WaitTable, WaitID) must reach WaitState (every deferrable act
	// applies in exactly one state; a test in workflow checks it).
	WaitingFor string `json:"waitingFor,omitempty"`
	WaitTable  string `json:"waitTable,omitempty"`
	WaitID     string `json:"waitId,omitempty"`
	WaitState  string `json:"waitState,omitempty"`
}

// Outcome is the final outcome of one of this device's mutations, decided
// after its push answered (a parked act applied or rejected later). Status
// is StatusApplied or StatusRejected; a rejection carries Code and Message
// (and Field) as a pushResult would.
type Outcome struct {
	Seq     int64  `json:"seq"`
	ID      string `json:"id"`
	Status  Status `json:"status"`
	Code    Code   `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	Field   string `json:"field,omitempty"`
}

// Changes answers a pull with one page of the change feed (server → client).
type Changes struct {
	// RequestID is the pull's; absent from a pushed page, which has From.
	RequestID string `json:"requestId,omitempty"`
	// From is the cursor a pushed page starts after: the workstation
	// applies the page only when its own cursor is exactly From, and pulls
	// otherwise. Absent from an answer to a pull (that pull's cursor).
	From   string `json:"from,omitempty"`
	Cursor string `json:"cursor"`
	// LastMutationSeq is the highest seq of this device whose effects are
	// all within the changes up to Cursor, so the client may drop its
	// outbox up to it in the same transaction that applies this page.
	LastMutationSeq int64    `json:"lastMutationSeq"`
	Changes         []Change `json:"changes"`
	More            bool     `json:"more"`
	// Resync marks the first page of a fresh snapshot sent because the
	// client's cursor is older than the retained feed.
	Resync bool `json:"resync,omitempty"`
	// ResyncReason is the sentence that says why (the cursor is older than
	// the retained feed, ahead of its head, or from another copy of the
	// database), for the workstation's log and status.
	ResyncReason string `json:"resyncReason,omitempty"`
	// Total and Sent count rows of a snapshot (empty cursor or resync),
	// for a progress bar; 0 when unknown.
	Total int64 `json:"total,omitempty"`
	Sent  int64 `json:"sent,omitempty"`
	// Outcomes lists this device's mutations whose outcome was decided
	// after their push answered, by a transaction whose changes lie within
	// this page's range: each is delivered once, with the changes it made.
	Outcomes []Outcome `json:"outcomes,omitempty"`
	// Resolutions are this device's rejected acts resolved (closed with a
	// reason, or re-issued) by transactions within this page's range of the
	// feed, so each reaches the workstation once, as rows do. They are not
	// rows of a seed table, hence their own member.
	Resolutions []Resolution `json:"resolutions,omitempty"`

	index     *rowIndex         // set by DecodeFromServer (RowMembers)
	projected []json.RawMessage // by position, the rows AddProjected appended
}

// Resolution kinds.
const (
	ResolutionClosed   = "closed"
	ResolutionReissued = "reissued"
)

// Resolution says that one of the device's rejected acts was resolved.
type Resolution struct {
	// ID is the rejected act's mutation id, Seq the seq it was recorded under.
	ID         string    `json:"id"`
	Seq        int64     `json:"seq"`
	Kind       string    `json:"kind"`
	ResolvedAt time.Time `json:"resolvedAt"`
	// ResolvedBy is the resolver's name ("" when the user was removed).
	ResolvedBy string `json:"resolvedBy"`
	Note       string `json:"note"`
	// ReissuedAs names the applied re-issue, "device/seq" (kind reissued).
	ReissuedAs string `json:"reissuedAs,omitempty"`
}

// ChangeOp is what happened to a row.
type ChangeOp string

const (
	OpUpsert ChangeOp = "upsert"
	OpDelete ChangeOp = "delete"
)

// Change is one row of the feed. Row is the whole row as far as the device
// may read it (not a patch), keyed by the seed's column names; nil for a delete.
type Change struct {
	Table string          `json:"table"`
	Op    ChangeOp        `json:"op"`
	ID    string          `json:"id"`
	Row   json.RawMessage `json:"row,omitempty"`
}

// Poke says new changes were committed (server → client); the client pulls.
type Poke struct {
	Head string `json:"head"`
}

// Error reports a refused frame (server → client). Fatal means the server
// closes the connection after sending it.
type Error struct {
	RequestID string `json:"requestId,omitempty"`
	Code      Code   `json:"code"`
	Message   string `json:"message"`
	Fatal     bool   `json:"fatal"`
}

func (*Hello) FrameType() string      { return TypeHello }
func (*Push) FrameType() string       { return TypePush }
func (*Pull) FrameType() string       { return TypePull }
func (*Report) FrameType() string     { return TypeReport }
func (*Welcome) FrameType() string    { return TypeWelcome }
func (*PushResult) FrameType() string { return TypePushResult }
func (*Changes) FrameType() string    { return TypeChanges }
func (*Poke) FrameType() string       { return TypePoke }
func (*Error) FrameType() string      { return TypeError }

func (*Hello) fromClient() bool      { return true }
func (*Push) fromClient() bool       { return true }
func (*Pull) fromClient() bool       { return true }
func (*Report) fromClient() bool     { return true }
func (*Welcome) fromClient() bool    { return false }
func (*PushResult) fromClient() bool { return false }
func (*Changes) fromClient() bool    { return false }
func (*Poke) fromClient() bool       { return false }
func (*Error) fromClient() bool      { return false }

// The MarshalJSON methods put "type" into the output, so that a frame
// written with plain json.Marshal (or a websocket library's WriteJSON) is
// still a frame. Encode is preferred: it also checks the frame.

// The frames' bodies: each frame's fields without its MarshalJSON, which
// marshalFrame encodes without recursing back into the method.
type (
	helloBody      Hello
	pushBody       Push
	pullBody       Pull
	reportBody     Report
	welcomeBody    Welcome
	pushResultBody PushResult
	changesBody    Changes
	pokeBody       Poke
	errorBody      Error
)

func (f Hello) MarshalJSON() ([]byte, error)   { return marshalFrame(TypeHello, helloBody(f)) }
func (f Push) MarshalJSON() ([]byte, error)    { return marshalFrame(TypePush, pushBody(f)) }
func (f Pull) MarshalJSON() ([]byte, error)    { return marshalFrame(TypePull, pullBody(f)) }
func (f Report) MarshalJSON() ([]byte, error)  { return marshalFrame(TypeReport, reportBody(f)) }
func (f Welcome) MarshalJSON() ([]byte, error) { return marshalFrame(TypeWelcome, welcomeBody(f)) }
func (f PushResult) MarshalJSON() ([]byte, error) {
	return marshalFrame(TypePushResult, pushResultBody(f))
}
func (f Changes) MarshalJSON() ([]byte, error) {
	if f.Changes == nil {
		// An empty page is a valid answer; null would not decode.
		f.Changes = []Change{}
	}
	return marshalFrame(TypeChanges, changesBody(f))
}
func (f Poke) MarshalJSON() ([]byte, error)  { return marshalFrame(TypePoke, pokeBody(f)) }
func (f Error) MarshalJSON() ([]byte, error) { return marshalFrame(TypeError, errorBody(f)) }

// marshalFrame encodes body and splices "type" in as the first member, so
// that a reader of logs sees what a frame is before anything else.
func marshalFrame(typ string, body any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Clinical text is full of "<" and "&"; escaping them would only make
	// frames larger and logs harder to read.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil {
		return nil, err
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	out := make([]byte, 0, len(b)+len(typ)+10)
	out = append(out, `{"type":"`...)
	out = append(out, typ...)
	out = append(out, '"')
	if len(b) > 2 {
		out = append(out, ',')
	}
	return append(out, b[1:]...), nil
}

// RequestIDOf is the request a server frame answers: "" for a frame that
// answers none (a poke, a pushed page, an error about no request).
func RequestIDOf(f Frame) string {
	switch f := f.(type) {
	case *Welcome:
		return f.RequestID
	case *PushResult:
		return f.RequestID
	case *Changes:
		return f.RequestID
	case *Error:
		return f.RequestID
	}
	return ""
}
