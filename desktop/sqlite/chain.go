package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"wardsync/syncproto"
	"wardsync/workflow"
)

// The act chain on the workstation (docs/provenance.md). Act writes each
// act's hash in the transaction that queues it; VerifyChain re-reads the
// pending acts before a push, so that an entry edited or deleted in the
// SQLite file behind the app's back is reported rather than sent as if
// nothing happened.

// chainState is the chain's bookkeeping in sync_state.
type chainState struct {
	head, acked string // '' = the device's genesis / unknown
}

func (t *Tx) chainState() (chainState, error) {
	var c chainState
	err := t.queryRow(`SELECT chainHead, ackedHash FROM sync_state WHERE singleton = 1`).Scan(&c.head, &c.acked)
	if err != nil {
		return c, fmt.Errorf("sqlite: read chain state: %w", err)
	}
	return c, nil
}

// stateAndChain reads the sync state and the chain's place in it.
func (t *Tx) stateAndChain() (State, chainState, error) {
	s, err := t.state()
	if err != nil {
		return s, chainState{}, err
	}
	c, err := t.chainState()
	return s, c, err
}

// content is what entry e's hash covers.
func (e *OutboxEntry) content(deviceID string) syncproto.ActContent {
	return syncproto.ActContent{DeviceID: deviceID, Seq: e.Seq, MutationID: e.ID, Name: e.Name, Args: e.Args,
		OccurredAt: e.OccurredAt, AuthorID: e.Author.ID}
}

// chainFrom hashes the pending entries (seq > ackedSeq) from head (” = the
// genesis) in seq order, and records the new head and, as the pending
// acts' anchor, ackedHash. When only is true, entries already hashed are
// left as they are and only unhashed ones are chained after the head.
func (t *Tx) chainFrom(s State, head string, onlyUnhashed bool) error {
	if s.DeviceID == "" {
		return nil // chained when the replica is bound to its device
	}
	where := `WHERE seq > ? ORDER BY seq`
	if onlyUnhashed {
		where = `WHERE seq > ? AND hash = '' ORDER BY seq`
	}
	entries, err := t.outbox(where, s.AckedSeq)
	if err != nil || len(entries) == 0 {
		return err
	}
	if head == "" {
		head = syncproto.Genesis(s.DeviceID)
	}
	anchor := head
	for _, e := range entries {
		h, err := syncproto.ChainHash(head, e.content(s.DeviceID))
		if err != nil {
			return err
		}
		// A new hash needs a new signature: the author's session key signs
		// it if this workstation still holds it (Resign); otherwise the
		// act keeps a signature the server will refuse, as it should.
		sig := e.Signature
		if h != e.Hash {
			sig = t.db.resign(e, h)
		}
		if _, err := t.exec(`UPDATE outbox SET prevHash = ?, hash = ?, signature = ? WHERE seq = ?`, head, h, sig, e.Seq); err != nil {
			return fmt.Errorf("sqlite: chain act %d: %w", e.Seq, err)
		}
		head = h
	}
	set := `UPDATE sync_state SET chainHead = ? WHERE singleton = 1`
	args := []any{head}
	if !onlyUnhashed {
		set = `UPDATE sync_state SET chainHead = ?, ackedHash = ? WHERE singleton = 1`
		args = append(args, anchor)
	}
	_, err = t.exec(set, args...)
	return err
}

// chainUnhashed chains acts queued before the replica knew its device, or
// before the chain existed (an upgraded replica), after the current head.
func (t *Tx) chainUnhashed() error {
	s, c, err := t.stateAndChain()
	if err != nil {
		return err
	}
	var n int
	if err := t.queryRow(`SELECT COUNT(*) FROM outbox WHERE seq > ? AND hash = ''`, s.AckedSeq).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	var hashed int
	if err := t.queryRow(`SELECT COUNT(*) FROM outbox WHERE seq > ? AND hash <> ''`, s.AckedSeq).Scan(&hashed); err != nil {
		return err
	}
	// Nothing pending is chained yet: the pending acts start the chain.
	return t.chainFrom(s, c.head, hashed > 0)
}

// actHash links a new act (seq, content) after the chain head and moves the
// head; it returns "", "" while the replica has no device yet.
func (t *Tx) actHash(s State, c syncproto.ActContent) (prev, hash string, err error) {
	if s.DeviceID == "" {
		return "", "", nil
	}
	cs, err := t.chainState()
	if err != nil {
		return "", "", err
	}
	prev = cs.head
	if prev == "" {
		prev = syncproto.Genesis(s.DeviceID)
	}
	c.DeviceID = s.DeviceID
	if hash, err = syncproto.ChainHash(prev, c); err != nil {
		return "", "", err
	}
	if _, err := t.exec(`UPDATE sync_state SET chainHead = ? WHERE singleton = 1`, hash); err != nil {
		return "", "", fmt.Errorf("sqlite: move chain head: %w", err)
	}
	return prev, hash, nil
}

// VerifyChain re-checks the chain of the acts still waiting for an outcome:
// every seq from ackedSeq+1 to the last assigned is there, each hash matches
// its content and links to the act before. It returns the first problem as
// a CHAIN_BROKEN rejection naming the seq, or nil.
func (db *DB) VerifyChain(ctx context.Context) (*workflow.Rejection, error) {
	var rej *workflow.Rejection
	err := db.read(ctx, func(t *Tx) error {
		s, cs, err := t.stateAndChain()
		if err != nil {
			return err
		}
		entries, err := t.outbox(`WHERE seq > ? ORDER BY seq`, s.AckedSeq)
		if err != nil {
			return err
		}
		rej = verifyPending(s, cs, entries)
		return nil
	})
	return rej, err
}

func verifyPending(s State, cs chainState, entries []OutboxEntry) *workflow.Rejection {
	broken := func(format string, a ...any) *workflow.Rejection {
		return workflow.Reject(workflow.CodeChainBroken, format, a...)
	}
	if s.DeviceID == "" {
		return nil
	}
	prev, seq := cs.acked, s.AckedSeq
	for _, e := range entries {
		if e.Hash == "" {
			return nil // not chained yet (no device when queued); Bind chains it
		}
		if e.Seq != seq+1 {
			return broken("Act %d is missing from this workstation's queue (deleted outside the app); the acts after it will be refused.", seq+1)
		}
		check := prev
		if check == "" {
			check = e.PrevHash // the anchor is unknown: judge the content alone
		}
		if b := syncproto.ChainCheck(check, e.content(s.DeviceID), e.PrevHash, e.Hash); b != "" {
			return broken("%s; the server will refuse it.", capitalize(b.Sentence(e.Seq)))
		}
		prev, seq = e.Hash, e.Seq
	}
	if seq < s.LastSeq {
		return broken("Act %d is missing from this workstation's queue (deleted outside the app).", seq+1)
	}
	if len(entries) > 0 && cs.head != "" && prev != cs.head {
		return broken("The last act in this workstation's queue is not the last one written (an act was removed); the server will refuse what follows.")
	}
	return nil
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// ackedHashOf returns the hash of the act at seq if the outbox still holds
// it, for ackedHash.
func (t *Tx) ackedHashOf(seq int64) (string, bool, error) {
	var h string
	err := t.queryRow(`SELECT hash FROM outbox WHERE seq = ?`, seq).Scan(&h)
	if err == sql.ErrNoRows {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return h, h != "", nil
}

// CloseQueueHoles handles pending acts deleted from the file behind the
// app's back. The protocol needs consecutive seqs, so the acts after a hole
// move down to close it; each keeps its link to the act that was deleted
// (the hash it followed) and is re-hashed for its new seq only if its own
// content still matched its hash, so the server refuses the first act
// after the hole (CHAIN_BROKEN: "does not follow") and any act that was
// edited, and nothing tampered is laundered. A deleted last act lowers
// lastSeq; the head still names it, so the next act is refused the same
// way. It reports how many acts moved.
func (db *DB) CloseQueueHoles(ctx context.Context) (int, error) {
	moved := 0
	err := db.write(ctx, func(t *Tx) error {
		moved = 0
		s, err := t.state()
		if err != nil || s.DeviceID == "" {
			return err
		}
		entries, err := t.outbox(`WHERE seq > ? ORDER BY seq`, s.AckedSeq)
		if err != nil {
			return err
		}
		next := s.AckedSeq + 1
		prevFinal := ""
		for _, e := range entries {
			if e.Seq == next && moved == 0 {
				next++
				continue
			}
			if e.Hash == "" {
				return nil // not chained yet: nothing to keep
			}
			if moved == 0 {
				prevFinal = e.PrevHash
			}
			ok := syncproto.ChainCheck(e.PrevHash, e.content(s.DeviceID), e.PrevHash, e.Hash) == ""
			old := e.Seq
			e.Seq = next
			hash, sig := e.Hash, e.Signature
			if ok {
				if hash, err = syncproto.ChainHash(prevFinal, e.content(s.DeviceID)); err != nil {
					return err
				}
				// Its content is as signed: its author's session signs the
				// new hash, if this workstation still holds its key.
				sig = t.db.resign(e, hash)
			}
			if _, err := t.exec(`UPDATE outbox SET seq = ?, prevHash = ?, hash = ?, signature = ? WHERE seq = ?`, next, prevFinal, hash, sig, old); err != nil {
				return fmt.Errorf("sqlite: close queue hole at %d: %w", next, err)
			}
			prevFinal = hash
			next++
			moved++
		}
		if next-1 < s.LastSeq {
			if _, err := t.exec(`UPDATE sync_state SET lastSeq = ? WHERE singleton = 1`, next-1); err != nil {
				return err
			}
		}
		if moved > 0 {
			_, err = t.exec(`UPDATE sync_state SET chainHead = ? WHERE singleton = 1`, prevFinal)
		}
		return err
	})
	return moved, err
}

// SetResigner gives the replica the signer of acts it re-hashes when it
// renumbers or chains its queue (a restored backup, acts queued before the
// device was known): fn returns the signature of the act's new hash by
// its author's session key, or "" when that key is gone (logged out).
func (db *DB) SetResigner(fn func(authorID, sessionID, hash string) string) {
	db.resignMu.Lock()
	defer db.resignMu.Unlock()
	db.resignFn = fn
}

func (db *DB) resign(e OutboxEntry, hash string) string {
	db.resignMu.Lock()
	fn := db.resignFn
	db.resignMu.Unlock()
	if fn == nil {
		return ""
	}
	return fn(e.Author.ID, e.Author.SessionID, hash)
}
