package workflow

// Code is a stable, machine-readable rejection or error code. Every code
// wardsync sends, on the websocket, over HTTP or to the workstation's UI,
// is declared here, so that the UI and the tests match on one spelling;
// adapters translate errors to these codes only at their edges.
type Code string

// Codes of the workflow: a mutator or a rule of this package refuses.
const (
	// CodeInvalidTransition: the row is not in a status the act applies in
	// and never will be (a cancelled appointment, an act done twice).
	CodeInvalidTransition Code = "INVALID_TRANSITION"
	// CodeForbidden: the author's role may not do this (an act, a field of
	// the patient record, the admin dashboard, a workstation of another
	// service, the last enabled administrator).
	CodeForbidden Code = "FORBIDDEN"
	// CodeValidationFailed: a value is missing, malformed or out of range;
	// Rejection.Field names it.
	CodeValidationFailed Code = "VALIDATION_FAILED"
	// CodeNotFound: a row the act or the request names does not exist.
	CodeNotFound Code = "NOT_FOUND"
	// CodeDuplicateID: an insert reuses the id of an existing row.
	CodeDuplicateID Code = "DUPLICATE_ID"
	// CodeUnauthenticated: no valid session (missing, expired or revoked
	// token, wrong password, or an act authored after its session ended).
	CodeUnauthenticated Code = "UNAUTHENTICATED"
	// CodeUnknownMutation: an act name this version does not know.
	CodeUnknownMutation Code = "UNKNOWN_MUTATION"
)

// Codes of the sync protocol and the transports around the workflow.
const (
	// CodeProtocolError: a frame or request breaks the protocol (bad JSON,
	// unknown frame type, a push before hello, oversized input).
	CodeProtocolError Code = "PROTOCOL_ERROR"
	// CodeClockSkew: the workstation's clock is too far from the server's
	// for its acts' times to be trusted.
	CodeClockSkew Code = "CLOCK_SKEW"
	// CodeChainBroken refuses an act whose hash chain does not hold: its
	// content was modified after it was written, or an act before it was
	// removed or reordered (docs/provenance.md).
	CodeChainBroken Code = "CHAIN_BROKEN"
	// CodeRateLimited refuses a login held back by the server's login
	// limits (HTTP 429): it did not judge the password, so a workstation
	// falls back to offline login (docs/security.md, "Login limits").
	CodeRateLimited Code = "RATE_LIMITED"
	// CodeInternal: the server or the workstation failed (a disk or
	// database failure, a bug), not the request. The message is generic on
	// the wire, since an internal error's text may name hosts and schema;
	// the full error is in the log. Retrying is safe: nothing was applied.
	// A mutator never returns it.
	CodeInternal Code = "INTERNAL"
	// CodeUnavailable: the server cannot reach its database just now (a
	// restart, a failover, the network between them): nothing was applied,
	// and the same request succeeds once it is back. A workstation keeps
	// its acts and sends them again (HTTP 503). A mutator never returns it.
	CodeUnavailable Code = "UNAVAILABLE"
	// CodeUpgradeRequired refuses a hello from a workstation older than the
	// server's minimum. It is fatal for the connection but not for the
	// queue: the workstation keeps its acts for after the update and stops
	// retrying hard.
	CodeUpgradeRequired Code = "UPGRADE_REQUIRED"
)

// Codes of the server's readiness probe (/readyz): what an operator looks
// up, never the driver's text.
const (
	// CodeMigrationsPending: the database schema is older than the server.
	CodeMigrationsPending Code = "MIGRATIONS_PENDING"
	// CodeDatabaseUnavailable: the database cannot be reached or read.
	CodeDatabaseUnavailable Code = "DATABASE_UNAVAILABLE"
)

// Codes of the workstation's transport-security refusals: the server it
// would talk to cannot be trusted, so nothing is sent.
const (
	// CodeInsecureURL: plain http:// or ws:// to another computer.
	CodeInsecureURL Code = "INSECURE_URL"
	// CodeUntrustedServer: the server's certificate does not verify
	// (unknown CA, wrong name, expired).
	CodeUntrustedServer Code = "UNTRUSTED_SERVER"
	// CodePinMismatch: the certificate verified but its key is not the
	// pinned one.
	CodePinMismatch Code = "PIN_MISMATCH"
	// CodeBadTLSConfig: the CA file or the pin given to the workstation
	// cannot be used.
	CodeBadTLSConfig Code = "BAD_TLS_CONFIG"
)

// Codes of the workstation's own files.
const (
	// CodeKeyFileBusy: another wardsync process on the workstation (a
	// station's login, act or run, or the app) held the key file's lock
	// longer than the wait; nothing was changed, and trying again is safe.
	CodeKeyFileBusy Code = "KEY_FILE_BUSY"
)

// Codes lists every code, in the order declared above.
var Codes = []Code{
	CodeInvalidTransition, CodeForbidden, CodeValidationFailed, CodeNotFound, CodeDuplicateID, CodeUnauthenticated,
	CodeUnknownMutation, CodeProtocolError, CodeClockSkew, CodeChainBroken, CodeRateLimited, CodeInternal, CodeUnavailable,
	CodeUpgradeRequired, CodeMigrationsPending, CodeDatabaseUnavailable, CodeInsecureURL, CodeUntrustedServer,
	CodePinMismatch, CodeBadTLSConfig, CodeKeyFileBusy,
}
