// Package syncproto is the wire contract between a ward workstation (the
// client) and wardsync-server (the server): protocol version 1. It holds the
// frame types, their JSON encoding, the limits, and the error codes.
// docs/protocol.md says the same with an example of every frame;
// testdata/*.json holds the reference frame of each type.
//
// Use [Decode] (or [DecodeFromClient] on the server, [DecodeFromServer] on
// the workstation) on every received message and [Encode] on every frame
// sent. Both apply every rule below, so a peer never sends what the other
// refuses. Errors are *[workflow.Rejection] values.
//
// # Transport
//
// GET /sync, upgraded to a websocket. Protocol 2: over one nonce from POST
// /api/v1/auth/challenge, the workstation proves it holds its device key
// (from its claim) and a live session issued on it proves its own key
// ([UpgradeHeaders], sign.go); the session's device is the connection's.
// The server refuses the upgrade with HTTP 401 when a proof is missing or
// wrong, or the session is unknown, ended or expired (or its user
// disabled, its workstation revoked), and with 403 for an admin dashboard
// session. When the session ends while connected, the server sends a fatal
// UNAUTHENTICATED and closes (4401). Each act names its own author
// (sessionId, signature, authorId).
//
// One frame per websocket text message; a binary message is a fatal
// PROTOCOL_ERROR. A frame is one JSON object whose "type" member names it.
// The server handles a connection's frames in arrival order and replies in
// that order; poke frames may come at any moment. Liveness is the websocket
// layer's ping/pong.
//
// # Encoding rules
//
//   - Size: at most [MaxFrameBytes] (1 MiB, 1,048,576 bytes) per encoded
//     frame.
//   - Text: valid UTF-8, valid JSON, one object, nothing after it but
//     whitespace.
//   - Nesting: at most [MaxDepth] (64) levels of objects and arrays, the frame
//     object being level 1; args and row sit at level 4.
//   - Member names: exactly as listed below, case-sensitive. An unknown
//     member is refused, never ignored. A name appears at most once per
//     object anywhere in the frame, args and row included, escapes resolved
//     ("h\u0065ad" is "head").
//   - Required members are present and not null. Optional members (marked
//     "?") may be omitted; null means omitted.
//   - Integers: JSON numbers without fraction or exponent, within int64.
//   - Times: RFC 3339 strings between 1970 and 9999. Receivers convert to UTC
//     and keep milliseconds, as TIMESTAMP(3) does; senders should send UTC
//     milliseconds ("2025-03-14T09:26:53.120Z").
//   - Identifiers are printable ASCII without spaces: requestId, deviceId
//     and a change's id 1–[MaxIDBytes] (128) bytes; cursor and head up to
//     [MaxCursorBytes] (1024); sessionId and signature up to 128; a
//     mutation name 1–[MaxNameBytes] (64).
//   - A mutation id is a canonical lowercase UUID, not the nil UUID
//     ([workflow.IsUUID]).
//   - Codes match [A-Z][A-Z0-9_]*, at most 128 bytes.
//   - args and row are JSON objects carried as they are; receivers compact
//     them.
//
// Frame types are closed: an unknown type, or a type only the other side
// sends, is refused.
//
// # Frames
//
// requestId is chosen by the client, unique among its requests on the
// connection, and echoed by the reply.
//
// Client → server:
//
//   - hello {requestId, protocol, deviceId, cursor, lastMutationSeq,
//     pending, oldestPendingAt?}: the first frame, sent once. protocol must
//     be [Version]. deviceId must be the session's device. cursor is
//     that of the last changes frame applied ("" if none), for monitoring.
//     lastMutationSeq is the highest seq the workstation ever assigned (0 if
//     none). pending counts queued mutations without an outcome;
//     oldestPendingAt is the occurredAt of the oldest, present exactly when
//     pending > 0. clientVersion? is the workstation's release ("1.3.0");
//     a server with a minimum refuses an older one, or one that names none,
//     with UPGRADE_REQUIRED (fatal; the workstation keeps its queue).
//   - push {requestId, mutations}: 1–[MaxPushMutations] (1000) mutations in
//     seq order, seqs consecutive. A mutation is {seq, id, name, args,
//     occurredAt, sessionId, signature}: seq ≥ 1, per device; id the mutation's own
//     UUID; name "noun.verb"; args the act's arguments with the seed's field
//     names (decoded strictly by the mutator); occurredAt when the act
//     happened at the ward; sessionId the session of the user who
//     performed it and signature that session's key's signature over the
//     act's hash ([SignAct]); authorId the user id of that
//     author as the workstation knows it; prevHash and hash the act chain
//     (below), 64 lowercase hex digits each.
//   - pull {requestId, cursor, limit?}: the changes after cursor; "" means
//     from nothing (initial snapshot). limit is 1–[MaxPullLimit] (1000);
//     omitted or 0 lets the server choose.
//   - report {requestId?, pending, oldestPendingAt?}: the backlog, as in
//     hello, for monitoring. No reply. Sent when pending changes, at most
//     about once a second.
//
// Server → client:
//
//   - welcome {requestId, serverTime, head, lastMutationSeq, deviceName?,
//     roles}: accepts a hello. lastMutationSeq is the highest seq of the
//     device the server recorded (applied or rejected). head is the feed
//     head, not empty. roles (at least one, distinct, valid) are the roles
//     the workstation serves; they decide what it receives. chainHead? is
//     the hash of the device's last act the server recorded (absent before
//     its first).
//   - pushResult {requestId, results}: one result per pushed mutation, in
//     order. A result is {seq, status, code?, message?, field?}; status is
//     "applied", "rejected" or "duplicate". rejected requires code and
//     message; applied has none of code, message, field; duplicate carries
//     code and message exactly when the first outcome was a rejection, which
//     it repeats. field names the offending argument of a VALIDATION_FAILED
//     (a JSON path such as "vitals.temperature"). "deferred": the act came
//     before its predecessor and the server holds it (docs/deferred.md);
//     it carries waitingFor, waitTable, waitId, waitState (as does a
//     duplicate of a still held act) and no code.
//   - changes {requestId, cursor, lastMutationSeq, changes, more, resync?,
//     resyncReason?, total?, sent?}: one page of the feed. cursor (not empty) is the
//     position after the page. lastMutationSeq is the highest seq of the
//     device whose effects all lie within the changes up to cursor. changes
//     holds 0–[MaxPullLimit] changes {table, op, id, row?}: table one of
//     [workflow.Tables]; op "upsert" or "delete"; row, for an upsert only,
//     the whole row as far as the device may read it (not a patch), keyed by
//     the seed's column names. more: pull again at once. resync: the cursor
//     cannot be followed (older than the retained feed, ahead of the feed's
//     head, or issued by another copy of the database) and this is the
//     first page of a fresh snapshot; resyncReason says why. total and sent (0 ≤ sent ≤ total) count the rows of a
//     snapshot for a progress bar: total counted when it started, sent
//     including this page. outcomes? lists {seq, id, status, code?,
//     message?, field?} of this device's mutations decided after their push
//     (a held act applied or rejected), once each, in the page whose range
//     holds the deciding transaction.
//   - poke {head}: the feed advanced (any instance, or SQL written directly);
//     no requestId.
//   - error {requestId?, code, message, fatal}: a refused frame or failed
//     request; fatal means the server closes the connection after it.
//
// # Errors
//
// One code type: [Code] is [workflow.Code], and workflow declares every
// code, under one spelling: this package names them as workflow.CodeX,
// with no copies of its own. [workflow.CodeInternal] and
// [workflow.CodeUpgradeRequired] are the only codes a mutator never
// returns.
//
//   - UPGRADE_REQUIRED: fatal error at hello: clientVersion is below the
//     server's minimum. The workstation keeps its queue for after its update.
//   - PROTOCOL_ERROR: the frame breaks the protocol: size, UTF-8, JSON,
//     nesting, repeated, unknown or missing member, wrong JSON type, unknown
//     or wrong-direction type, version, mutation count, non-consecutive seqs,
//     a push gap, a frame before hello. In a result: the mutation reused a
//     seq already recorded for another id.
//   - VALIDATION_FAILED: a frame member's value is out of bounds (error
//     frame, member named; Decode sets Rejection.Field), or an act's
//     arguments are invalid (rejected result with field).
//   - UNAUTHENTICATED: fatal error when the connection's session ends while
//     connected (logout, user disabled, expiry) or the workstation is
//     revoked; in a result, the act's session is unknown, ended, outside its
//     window, or issued on another device, or its signature is missing or
//     does not verify ([VerifyAct]).
//   - FORBIDDEN: at hello, deviceId is not the device the session was
//     issued on; in a result, the author's role may not do the act or is not
//     one the device serves.
//   - INVALID_TRANSITION, NOT_FOUND, DUPLICATE_ID, UNKNOWN_MUTATION,
//     CLOCK_SKEW (occurredAt more than 5 minutes ahead of the server):
//     results only, from the mutators.
//   - CHAIN_BROKEN: in a result, the act's hash does not match its content,
//     or its prevHash is not the hash of the device's previous act.
//   - INTERNAL: the server failed; the message is generic. Retry; what was
//     committed stays committed.
//
// Fatal (the server then closes the connection, code 1008, or 1009 for
// size, or 4401 for UNAUTHENTICATED; 1001 is a shutdown and 4403 a
// workstation revoked while connected): any error answering hello, a frame before hello, a second hello, a
// session or workstation whose access ended, and any unreadable frame: over 1 MiB, binary, not
// UTF-8, not JSON, too deep, no or unknown type, a server-only type. A
// message far over the limit may be cut by the websocket layer (1009)
// before any error frame. Everything else is not fatal and changes nothing:
// a well-formed frame of a known type with wrong members, a push gap,
// INTERNAL.
//
// # Push
//
// Mutations are processed in seq order; last is the highest seq recorded for
// the device.
//
//   - seq ≤ last: duplicate, not applied again; the result repeats the first
//     outcome. If the mutation recorded at that seq has another id, the
//     result is rejected with PROTOCOL_ERROR (the client reused a seq).
//   - seq = last+1: the author is checked (guarantee 5), the mutator runs
//     with occurredAt as clinical time, and one transaction applies the
//     effect, records the mutation in the audit log (author, device,
//     occurredAt, receivedAt, outcome, code, message, args) and sets last =
//     seq. A mutation whose id is already recorded under another seq is a
//     duplicate of it (the seq still advances). A rejected mutation's effect
//     is rolled back, but its outcome is recorded and the seq advances in
//     the same transaction, so it never blocks the ones after it.
//   - first seq > last+1: a gap, a non-fatal PROTOCOL_ERROR naming last;
//     nothing is applied and the client resends from last+1.
//
// Act chain: every mutation carries hash = SHA-256(prev || content), prev
// the raw bytes of prevHash, content the netstrings of "wardsync-act-1",
// deviceId, seq, id, name, compact args, occurredAt (UTC, milliseconds) and
// authorId ([ActContent.Canonical]); a device's first act links to
// [Genesis]. The server checks each new seq against its stored head before
// anything else, refuses a mismatch CHAIN_BROKEN (recorded like any
// rejection) and continues the chain from the received hash, so that later
// acts are judged on their own. testdata/chain.json holds golden vectors.
//
// A push cut short (INTERNAL, lost connection) may have applied a prefix;
// pushing again is safe, the prefix comes back duplicate.
//
// # Pull
//
//   - cursor "" starts an initial snapshot: every row the device may read,
//     paged, tables parents first (users, patients, appointments,
//     prescriptions, results, documents), all upserts, with total and sent.
//   - Otherwise the page holds the feed's changes after cursor, in feed
//     order; apply them in order, a later change of a row superseding an
//     earlier one. Applying a change twice is harmless.
//   - Feed order is not foreign-key order: defer foreign-key checks to the
//     end of the page's transaction, or do not enforce them on the replica.
//   - more: true means pull again now with the new cursor. After the last
//     page of a snapshot the replica matches the server as of cursor;
//     between pages it is part-way. An empty page is valid.
//   - resync: true means the page is the first of a fresh snapshot, as if
//     the cursor had been ""; the client deletes every replicated row in the
//     transaction applying it (outbox and rejected list stay).
//   - lastMutationSeq: mutations up to it have their effects within the
//     changes up to cursor; the client drops them from its outbox in the
//     transaction that applies the page, then re-runs what is still queued.
//   - The cursor is opaque: stored with the data applied (same transaction)
//     and sent back unchanged.
//
// # Poke
//
// Sent after welcome whenever the feed head advances, whoever committed.
// Pokes are hints and may be coalesced. The client pulls on a poke (once
// more after the current pull if one is in flight) and right after welcome.
//
// # Client duties
//
//   - Check each mutation with [Mutation.Validate] when queueing it: a queued
//     mutation the server cannot decode would block every one after it.
//   - Assign seqs consecutively; never reuse one or leave a hole.
//   - Keep each queued mutation until its outcome is known. After welcome,
//     push every mutation without a known outcome, oldest first; those at or
//     below welcome.lastMutationSeq come back duplicate with their first
//     outcome. applied: keep it until a changes frame's lastMutationSeq
//     covers it. rejected, or a duplicate with a code: move it to the
//     rejected list (code, message, field, args) and drop its optimistic
//     effect. deferred: keep it, without effect, flagged with waitingFor,
//     until an outcome in a changes frame decides it.
//   - If welcome.lastMutationSeq is above hello.lastMutationSeq, the
//     workstation went back in time (restored backup): renumber the queued
//     mutations to follow welcome.lastMutationSeq, keeping ids and order;
//     those the server has are recognised by id.
//   - Report the backlog in hello and with report.
//
// # Guarantees
//
//  1. Exactly once. A mutation is applied at most once and never silently
//     dropped: it ends applied or rejected, and the audit log says which.
//     Duplicates (by seq or by id) are acknowledged with their first
//     outcome; a gap is refused whole.
//  2. No skipped change. A pull never skips a committed change, whoever
//     wrote it: changes are captured in the database (trigger or logical
//     decoding), and a cursor never passes an uncommitted change (each change
//     records its transaction id; a page hands out only changes below the
//     reading snapshot's xmin horizon). A change still reaches connected
//     devices within the poke latency when an unrelated open transaction
//     holds the horizon back: the server re-checks with backoff.
//  3. Consistent pages. Each changes frame (changes, cursor,
//     lastMutationSeq) is read from one snapshot.
//  4. Need to know. A device receives only the tables and columns its roles
//     may read ([workflow.VisibleTables], [workflow.VisibleColumns]); password
//     hashes never leave the server. A column missing from a row is one the
//     device may not read.
//  5. Author is real. A mutation is applied only if it is signed by the key
//     of its sessionId, a valid, unrevoked session issued on this device, to a user not
//     disabled, whose role allows the act and is one the device serves; a
//     session authors offline for a configured time after issue (default 7
//     days), checked against occurredAt. Otherwise: rejected,
//     UNAUTHENTICATED or FORBIDDEN.
//
// # Versioning
//
// Unknown members and types are refused, so any addition to a frame is a new
// protocol version. A server speaks one version and refuses others at hello
// ("protocol version 2 is not supported; this server speaks 1"). A client
// shows an unknown error code's message as it is.
package syncproto
