package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"wardsync/syncproto"
	"wardsync/workflow"
)

// Push applies a device's mutations exactly once, in seq order, in one
// transaction (group commit). For each mutation: authenticate its author,
// run the workflow mutator against locked rows, write the effect, record the
// outcome in the audit log. A rejection rolls back that mutation's effect
// (savepoint) but its outcome is still recorded and the device's seq still
// advances, so a refused act can never block the ones behind it.
//
// A seq at or below the device's last is a duplicate: nothing is applied and
// the first outcome is repeated. A seq above last+1 is a gap: the whole push
// is refused with PROTOCOL_ERROR and nothing is written.
func (db *DB) Push(ctx context.Context, deviceID string, muts []syncproto.Mutation) ([]syncproto.MutationResult, error) {
	var results []syncproto.MutationResult
	err := db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		var err error
		results, err = db.push(ctx, tx, deviceID, muts)
		return err
	})
	if err != nil {
		return nil, err
	}
	// After the commit: the devices pull the changes, the dashboards
	// re-read the audit log and the device's queue.
	db.announce(feedNotice, adminNotice("mutations"), adminNotice("clients"))
	return results, nil
}

func (db *DB) push(ctx context.Context, tx pgx.Tx, deviceID string, muts []syncproto.Mutation) ([]syncproto.MutationResult, error) {
	receivedAt := db.now()
	// The device's row serialises its pushes, even across server instances.
	// Its chain head comes with it: a push of one act (an online
	// workstation's) pays every round trip of the push's own bookkeeping.
	var last int64
	var roles []string
	var revoked *time.Time
	var chain []byte
	err := tx.QueryRow(ctx, `
		SELECT c.last_mutation_seq, d.roles, d.revoked_at, c.chain_head
		  FROM sync.clients c JOIN sync.devices d ON d.id = c.device_id
		 WHERE c.device_id = $1 FOR UPDATE OF c`, deviceID).Scan(&last, &roles, &revoked, &chain)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, workflow.Reject(workflow.CodeUnauthenticated, "Workstation %s is not registered with this server.", deviceID)
	}
	if err != nil {
		return nil, err
	}
	if revoked != nil {
		return nil, workflow.Reject(workflow.CodeUnauthenticated, "This workstation was revoked; it can no longer synchronise.")
	}
	expect := last + 1
	for _, m := range muts {
		if m.Seq <= last {
			continue
		}
		if m.Seq != expect {
			return nil, workflow.Reject(workflow.CodeProtocolError,
				"Mutation seq %d leaves a gap: the server has everything up to %d, so the next must be %d; resend from %d.", m.Seq, last, expect, expect)
		}
		expect++
	}
	if err := claimPatientKeys(ctx, tx, muts, last); err != nil {
		return nil, err
	}
	head := chainHeadOf(deviceID, chain)
	deviceRoles := make([]workflow.Role, len(roles))
	for i, r := range roles {
		deviceRoles[i] = workflow.Role(r)
	}

	// A new seq may carry a mutation the server already has under an older
	// seq: a workstation restored from a backup renumbers its queue
	// (docs/protocol.md, "Lost state"), and the same id may even come twice
	// in one push. Such a mutation is a duplicate of its first outcome,
	// never applied again; its seq still advances.
	var newIDs []string
	for _, m := range muts {
		if m.Seq > last {
			newIDs = append(newIDs, m.ID)
		}
	}
	first, err := recordedByID(ctx, tx, deviceID, newIDs)
	if err != nil {
		return nil, err
	}

	ps := &pushState{deviceID: deviceID, roles: deviceRoles, receivedAt: receivedAt, sessions: map[string]sessionLookup{}}
	results := make([]syncproto.MutationResult, 0, len(muts))
	for _, m := range muts {
		if m.Seq <= last {
			res, err := duplicateResult(ctx, tx, deviceID, m.Seq, m.ID)
			if err != nil {
				return nil, err
			}
			results = append(results, res)
			continue
		}
		if res, ok := first[m.ID]; ok {
			res.Seq, res.Status = m.Seq, syncproto.StatusDuplicate
			results = append(results, res)
			last, head = m.Seq, m.Hash
			continue
		}
		res, err := db.applyOne(ctx, tx, ps, m, head)
		if err != nil {
			return nil, err
		}
		results = append(results, res)
		first[m.ID] = res
		if res.Status == syncproto.StatusDeferred {
			// Repeated as a duplicate, a parked act says what it waits for only.
			first[m.ID] = syncproto.MutationResult{WaitingFor: res.WaitingFor, WaitTable: res.WaitTable, WaitID: res.WaitID, WaitState: res.WaitState}
		}
		// After a break too: the chain continues from the received hash,
		// so the next act is judged on its own (docs/provenance.md).
		last, head = m.Seq, m.Hash
	}
	headBytes, err := chainHeadBytes(head)
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `UPDATE sync.clients SET last_mutation_seq = $2, last_seen = $3, chain_head = $4 WHERE device_id = $1`,
		deviceID, last, receivedAt, headBytes); err != nil {
		return nil, err
	}
	return results, nil
}

// recordedByID returns the first outcomes of those of ids the device's
// mutations already hold, over its whole history (indexed by 00012).
func recordedByID(ctx context.Context, tx pgx.Tx, deviceID string, ids []string) (map[string]syncproto.MutationResult, error) {
	out := map[string]syncproto.MutationResult{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := tx.Query(ctx, `SELECT mutation_id, seq, outcome, COALESCE(code, ''), COALESCE(message, ''), COALESCE(field, '') FROM sync.mutations
		 WHERE device_id = $1 AND mutation_id = ANY($2) ORDER BY seq`, deviceID, ids)
	if err != nil {
		return nil, err
	}
	var parkedSeqs = map[string]int64{}
	for rows.Next() {
		var id, code, outcome string
		var seq int64
		var r syncproto.MutationResult
		if err := rows.Scan(&id, &seq, &outcome, &code, &r.Message, &r.Field); err != nil {
			rows.Close()
			return nil, err
		}
		r.Code = workflow.Code(code)
		if _, seen := out[id]; !seen {
			out[id] = r
			if outcome == "deferred" {
				parkedSeqs[id] = seq
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for id, seq := range parkedSeqs {
		r, err := duplicateOfParked(ctx, tx, deviceID, seq, syncproto.MutationResult{})
		if err != nil {
			return nil, err
		}
		out[id] = r
	}
	return out, nil
}

// duplicateOfParked answers a duplicate of an act still parked: it repeats
// what the act waits for (no code: it is not refused).
func duplicateOfParked(ctx context.Context, tx pgx.Tx, deviceID string, seq int64, res syncproto.MutationResult) (syncproto.MutationResult, error) {
	w, _, err := parkedWait(ctx, tx, deviceID, seq)
	w.Seq, w.Status = res.Seq, res.Status
	return w, err
}

// duplicateResult answers a seq the server already has. The first outcome
// is repeated, so a workstation that lost the reply still learns of a
// rejection. A different mutation id under a known seq means the
// workstation lost its numbering (a restored backup): that act was never
// applied, and it is refused rather than silently acknowledged.
func duplicateResult(ctx context.Context, tx pgx.Tx, deviceID string, seq int64, id string) (syncproto.MutationResult, error) {
	res := syncproto.MutationResult{Seq: seq, Status: syncproto.StatusDuplicate}
	var code, msg, field *string
	var known, outcome string
	var knownSeq int64
	err := tx.QueryRow(ctx, `SELECT mutation_id, seq, outcome, code, message, field FROM sync.mutations WHERE device_id = $1 AND seq = $2`, deviceID, seq).
		Scan(&known, &knownSeq, &outcome, &code, &msg, &field)
	if errors.Is(err, pgx.ErrNoRows) {
		// The seq advanced over a duplicate by id: repeat that id's first
		// outcome, so a workstation that lost the reply still learns it.
		err = tx.QueryRow(ctx, `SELECT mutation_id, seq, outcome, code, message, field FROM sync.mutations WHERE device_id = $1 AND mutation_id = $2 ORDER BY seq LIMIT 1`,
			deviceID, id).Scan(&known, &knownSeq, &outcome, &code, &msg, &field)
		if errors.Is(err, pgx.ErrNoRows) {
			return res, nil
		}
	}
	if err != nil {
		return res, err
	}
	if known == id && outcome == "deferred" {
		return duplicateOfParked(ctx, tx, deviceID, knownSeq, res)
	}
	if known != id {
		res.Status, res.Code = syncproto.StatusRejected, workflow.CodeProtocolError
		res.Message = fmt.Sprintf("Seq %d of this workstation already belongs to another act (%s); this act (%s) was not applied. Resend it with a new seq after %d.", seq, known, id, seq)
		return res, nil
	}
	if code != nil {
		res.Code = workflow.Code(*code)
	}
	if msg != nil {
		res.Message = *msg
	}
	if field != nil {
		res.Field = *field
	}
	return res, nil
}

// pushState is what the acts of one push share: the device, and the
// sessions their authors' tokens resolved to. A push of 200 acts typically
// carries a handful of authors; each token is looked up once per push (one
// transaction: the acts are judged as of one moment either way).
type pushState struct {
	deviceID   string
	roles      []workflow.Role
	receivedAt time.Time
	sessions   map[string]sessionLookup
}

type sessionLookup struct {
	s     *sessionRow
	found bool
}

// session resolves an author token, once per push.
func (ps *pushState) session(ctx context.Context, tx pgx.Tx, id string) (*sessionRow, bool, error) {
	if l, ok := ps.sessions[id]; ok {
		return l.s, l.found, nil
	}
	s, err := scanSession(tx.QueryRow(ctx, sessionByIDQuery, id))
	if errors.Is(err, pgx.ErrNoRows) {
		ps.sessions[id] = sessionLookup{}
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	ps.sessions[id] = sessionLookup{s: s, found: true}
	return s, true, nil
}

// applyOne runs one new mutation inside a savepoint and records its outcome.
// It returns an error only for infrastructure failures, which abort the
// whole push so the client resends it.
func (db *DB) applyOne(ctx context.Context, tx pgx.Tx, ps *pushState, m syncproto.Mutation, head string) (syncproto.MutationResult, error) {
	var (
		actor   workflow.Actor
		session string
	)
	deviceID, receivedAt := ps.deviceID, ps.receivedAt
	chainBreak, rej := checkChain(deviceID, head, m)
	var err error
	if rej == nil {
		rej, err = db.authorize(ctx, tx, ps, m, &actor, &session)
		if err != nil {
			return syncproto.MutationResult{}, err
		}
	}
	if rej == nil {
		rej = checkAuthorClaim(m, actor)
	}
	var wait *workflow.Wait
	var repoints []repoint // acts naming a merged patient (merge.go)
	open := false          // the act's savepoint awaits its release (applyOpen)
	if rej == nil {
		if workflow.IsBookkeeping(m.Name) {
			// Not a clinical act: a workstation closing one of its rejected
			// acts with a reason (review.go).
			rej, err = closeRejected(ctx, tx, deviceID, m, actor)
		} else {
			var args json.RawMessage
			args, repoints, rej, err = beforeApply(ctx, tx, m)
			if err == nil && rej == nil {
				rej, wait, open, err = applyOrWait(ctx, tx, workflow.Mutation{ID: m.ID, Name: m.Name, Args: args, Actor: actor, OccurredAt: m.OccurredAt})
			}
		}
		if err != nil {
			return syncproto.MutationResult{}, err
		}
		if rej == nil && m.ReissueOf != "" {
			if err := resolveReissued(ctx, tx, deviceID, m, actor); err != nil {
				return syncproto.MutationResult{}, err
			}
		}
	}
	res := syncproto.MutationResult{Seq: m.Seq, Status: syncproto.StatusApplied}
	outcome := "applied"
	var code, msg, field any
	switch {
	case wait != nil:
		// Early, not wrong: parked below, once its audit row exists.
		res = deferredResult(m.Seq, rej)
		outcome, msg = "deferred", res.Message
	case rej != nil:
		// A field path names the keys sent, and PostgreSQL's text cannot
		// hold NUL: the result says what the audit log can keep, so that a
		// duplicate repeats it exactly.
		res.Status, res.Code, res.Message, res.Field = syncproto.StatusRejected, rej.Code, pgText(rej.Message), pgText(rej.Field)
		outcome, code, msg = "rejected", string(rej.Code), res.Message
		if res.Field != "" {
			field = res.Field
		}
	}
	var targetTable, targetID any
	if t, id, err := workflow.Targets(m.Name, m.Args); err == nil {
		targetTable, targetID = t, id
	}
	var author, sess any
	if actor.ID != "" {
		author, sess = actor.ID, session
	}
	args := auditArgs(m.Args)
	var reissueOf any
	if m.ReissueOf != "" {
		reissueOf = m.ReissueOf
	}
	// One round trip: the act's savepoint is released, its audit row
	// written with its link in the chain (chain.go), and the answer says
	// whether an act parked on a row is now woken (deferred.go).
	c := chainColumns(m, chainBreak)
	b := &pgx.Batch{}
	if open {
		b.Queue(releaseAct)
	}
	var woken bool
	b.Queue(`
		INSERT INTO sync.mutations (device_id, seq, mutation_id, name, args, author_id, session_id, occurred_at, received_at,
		                            outcome, code, message, field, target_table, target_id, reissue_of,
		                            prev_hash, hash, chain_author, chain_args, chain_break)
		VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
		RETURNING EXISTS (SELECT 1 FROM sync.deferred WHERE outcome IS NULL AND woken)`,
		deviceID, m.Seq, m.ID, m.Name, string(args), author, sess, m.OccurredAt, receivedAt,
		outcome, code, msg, field, targetTable, targetID, reissueOf,
		c.prev, c.hash, c.author, c.args, c.brk).QueryRow(func(r pgx.Row) error { return r.Scan(&woken) })
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return syncproto.MutationResult{}, fmt.Errorf("record mutation %d: %w", m.Seq, err)
	}
	if rej == nil {
		if err := recordRepoints(ctx, tx, deviceID, m, repoints, receivedAt); err != nil {
			return syncproto.MutationResult{}, err
		}
	}
	if err := db.afterOutcome(ctx, tx, deviceID, m.Seq, outcome, wait, actor, receivedAt, woken); err != nil {
		return syncproto.MutationResult{}, err
	}
	return res, nil
}

// afterOutcome parks a deferred act, and after an applied one retries the
// acts parked on the rows it changed (docs/deferred.md); woken says
// whether any parked act is woken at all (checked with the audit row).
func (db *DB) afterOutcome(ctx context.Context, tx pgx.Tx, deviceID string, seq int64, outcome string, wait *workflow.Wait,
	actor workflow.Actor, receivedAt time.Time, woken bool) error {
	switch outcome {
	case "deferred":
		return db.parkAct(ctx, tx, deviceID, seq, wait, actor, receivedAt)
	case "applied":
		if !woken {
			return nil
		}
		return db.retryWoken(ctx, tx)
	}
	return nil
}

// authorize checks that the act names a live session issued on this
// device and is signed with that session's key (syncproto.VerifyAct), that it covered the moment the act occurred, that the device serves
// the author's role, and that the act does not claim to come from the future.
func (db *DB) authorize(ctx context.Context, tx pgx.Tx, ps *pushState, m syncproto.Mutation,
	actor *workflow.Actor, session *string) (*workflow.Rejection, error) {
	deviceID, deviceRoles, receivedAt := ps.deviceID, ps.roles, ps.receivedAt
	if m.OccurredAt.After(receivedAt.Add(db.Config.MaxSkew)) {
		return workflow.Reject(workflow.CodeClockSkew, "The act claims to have occurred at %s, more than %s after the server's time %s; check the workstation's clock.",
			m.OccurredAt.UTC().Format(time.RFC3339), db.Config.MaxSkew, receivedAt.Format(time.RFC3339)), nil
	}
	s, found, err := ps.session(ctx, tx, m.SessionID)
	if err != nil {
		return nil, err
	}
	if !found {
		return workflow.Reject(workflow.CodeUnauthenticated, "The act's session is not a session of this server; the author must log in again."), nil
	}
	if s.DeviceID != deviceID {
		return workflow.Reject(workflow.CodeUnauthenticated, "The act's session was issued on another workstation; acts are accepted only from the workstation where the author logged in."), nil
	}
	if rej := syncproto.VerifyAct(s.signKey, deviceID, &m); rej != nil {
		return rej, nil
	}
	// A logged-out session authors nothing more, whatever time its acts
	// claim: a workstation logs out at the server only once the user's
	// queue is empty (desktop.Engine.Logout), so an act arriving after the
	// logout was backdated, or kept back on purpose (docs/protocol.md,
	// "Access that ends").
	if s.revoked != nil && s.endedReason == EndLogout {
		return workflow.Reject(workflow.CodeUnauthenticated, "%s logged out at %s UTC, before this act reached the server; an act that arrives after its author's logout is refused, whatever time it gives.",
			s.UserName, s.revoked.UTC().Format("2006-01-02 15:04:05")), nil
	}
	if s.revoked != nil && s.endedReason != EndExpired && s.endedReason != EndIdle && s.revoked.Before(m.OccurredAt) {
		return s.check(m.OccurredAt, 0), nil
	}
	if s.disabled != nil || s.deviceRevoked != nil {
		return s.check(receivedAt, 0), nil
	}
	// Offline authoring: the act must fall inside the session's window. A
	// little slack before issue absorbs a workstation clock slightly behind.
	if m.OccurredAt.Before(s.IssuedAt.Add(-db.Config.MaxSkew)) {
		return workflow.Reject(workflow.CodeUnauthenticated, "The act occurred at %s, before %s logged in at %s.",
			m.OccurredAt.UTC().Format("2006-01-02 15:04"), s.UserName, s.IssuedAt.UTC().Format("2006-01-02 15:04")), nil
	}
	if m.OccurredAt.After(s.ExpiresAt) {
		return workflow.Reject(workflow.CodeUnauthenticated, "The act occurred at %s, after the session of %s expired at %s; offline work is accepted for %s after a login.",
			m.OccurredAt.UTC().Format("2006-01-02 15:04"), s.UserName, s.ExpiresAt.UTC().Format("2006-01-02 15:04"), db.Config.SessionTTL), nil
	}
	served := false
	for _, r := range deviceRoles {
		served = served || r == s.Role
	}
	if !served {
		return workflow.Reject(workflow.CodeForbidden, "This workstation does not serve the %s role.", s.Role), nil
	}
	*actor = s.Actor()
	*session = s.ID
	return nil, nil
}

// applyInSavepoint runs the mutator and writes its effect; a rejection (by
// the workflow, or by a constraint that another writer's race tripped)
// undoes the act's writes and is returned as the outcome.
func applyInSavepoint(ctx context.Context, tx pgx.Tx, m workflow.Mutation) (*workflow.Rejection, error) {
	rej, open, err := applyOpen(ctx, tx, m)
	if err != nil || !open {
		return rej, err
	}
	_, err = tx.Exec(ctx, releaseAct)
	return nil, err
}

// The savepoint around one act's writes. It always nests in the push's own
// transaction and is released or rolled back before the next act's.
const (
	savepointAct = `SAVEPOINT wardsync_act`
	releaseAct   = `RELEASE SAVEPOINT wardsync_act`
	rollbackAct  = `ROLLBACK TO SAVEPOINT wardsync_act`
)

// applyOpen is applyInSavepoint in as few round trips as it can (a push
// pays each one per act):
//   - the mutator's reads run outside any savepoint: a refusal by the
//     workflow has written nothing, and a read that fails is an
//     infrastructure error that aborts the whole push anyway. The rows it
//     locked stay locked until the push commits (an applied act's did
//     already).
//   - the writes can still be refused (a constraint another writer's race
//     tripped, a row gone), so they run in a savepoint; SAVEPOINT and the
//     writes go to PostgreSQL in one batch.
//   - on success the savepoint is left open (open is true) so that the
//     caller sends RELEASE with its next statement (releaseAct).
func applyOpen(ctx context.Context, tx pgx.Tx, m workflow.Mutation) (rej *workflow.Rejection, open bool, err error) {
	eff, err := workflow.Apply(ctx, txReader{tx}, m)
	if err != nil {
		if r, ok := workflow.AsRejection(err); ok {
			return r, false, nil
		}
		return nil, false, err
	}
	b := &pgx.Batch{}
	if m.Name == "patient.merge" {
		// Its record is written first, from the loser's row (merge.go).
		if _, err := tx.Exec(ctx, savepointAct); err != nil {
			return nil, false, err
		}
		if err := recordMerge(ctx, tx, m, eff); err != nil {
			return nil, false, err
		}
	} else {
		b.Queue(savepointAct)
	}
	for _, op := range eff.Ops {
		q, args, err := opSQL(op)
		if err != nil {
			return nil, false, err
		}
		b.Queue(q, args...)
	}
	rej, err = sendWrites(ctx, tx, b, eff.Ops)
	if err != nil {
		return nil, false, err
	}
	if rej != nil {
		// The savepoint undoes this act's writes only; the push goes on.
		if _, err := tx.Exec(ctx, rollbackAct+`; `+releaseAct); err != nil {
			return nil, false, err
		}
		return rej, false, nil
	}
	return nil, true, nil
}

// sendWrites sends a batch of (SAVEPOINT and) ops' writes, the ops last
// and in order, and turns the first refused write into its rejection.
func sendWrites(ctx context.Context, tx pgx.Tx, b *pgx.Batch, ops []workflow.Op) (*workflow.Rejection, error) {
	br := tx.SendBatch(ctx, b)
	first := b.Len() - len(ops)
	var rej *workflow.Rejection
	var failed error
	for i := 0; i < b.Len() && failed == nil && rej == nil; i++ {
		tag, err := br.Exec()
		if i < first {
			failed = err
			continue
		}
		op := ops[i-first]
		if err == nil {
			err = checkOpTag(op, tag)
		}
		if err == nil {
			continue
		}
		if r, ok := workflow.AsRejection(err); ok {
			rej = r
		} else if r := rejectionOf(err, op); r != nil {
			rej = r
		} else {
			failed = err
		}
	}
	// The statements after a failed one were skipped by PostgreSQL; Close
	// reads their answers.
	closeErr := br.Close()
	if failed != nil {
		return nil, failed
	}
	if rej == nil && closeErr != nil {
		return nil, closeErr
	}
	return rej, nil
}

// auditArgs returns the arguments as the audit log stores them: as sent
// when PostgreSQL's jsonb takes them, otherwise as one JSON string holding
// the text sent. jsonb refuses the \u0000 escape, lone UTF-16 surrogates
// and numbers beyond numeric's range, and would blow a number such as
// 1e100000 up to a hundred thousand digits; the mutator refuses such
// arguments, but its refusal must still be recorded, or the push would fail
// and block every act queued behind it.
func auditArgs(raw json.RawMessage) json.RawMessage {
	if jsonbSafe(raw) {
		return raw
	}
	b, _ := json.Marshal(string(raw))
	return b
}

func jsonbSafe(raw []byte) bool {
	if !json.Valid(raw) {
		return false
	}
	// Escapes: backslashes occur only inside strings in valid JSON.
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		if raw[i+1] != 'u' {
			i++
			continue
		}
		c, _ := strconv.ParseUint(string(raw[i+2:i+6]), 16, 32)
		switch {
		case c == 0, c >= 0xDC00 && c <= 0xDFFF:
			return false
		case c >= 0xD800 && c <= 0xDBFF:
			if i+12 > len(raw) || raw[i+6] != '\\' || raw[i+7] != 'u' {
				return false
			}
			lo, _ := strconv.ParseUint(string(raw[i+8:i+12]), 16, 32)
			if lo < 0xDC00 || lo > 0xDFFF {
				return false
			}
			i += 6
		}
		i += 5
	}
	// Numbers: short, with a modest exponent.
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return true
		}
		if err != nil {
			return false
		}
		n, ok := tok.(json.Number)
		if !ok {
			continue
		}
		s := string(n)
		if len(s) > 100 {
			return false
		}
		if i := strings.IndexAny(s, "eE"); i >= 0 {
			e, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
			if err != nil || e > 1000 || e < -1000 {
				return false
			}
		}
	}
}

// pgText makes s storable in a TEXT column: NUL becomes U+FFFD.
func pgText(s string) string {
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}
