package postgres

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/jackc/pgx/v5"

	"wardsync/syncproto"
	"wardsync/workflow"
)

// The act chain on the server (docs/provenance.md): each new seq is checked
// against the device's chain head before its author, its hashes are kept in
// the audit log, and the head moves to the received hash whatever the
// outcome.

// chainHead returns the hash of the device's last recorded act, or its
// genesis when none was hashed yet. The caller holds the device's
// sync.clients row.
func chainHead(ctx context.Context, tx pgx.Tx, deviceID string) (string, error) {
	var h []byte
	if err := tx.QueryRow(ctx, `SELECT chain_head FROM sync.clients WHERE device_id = $1`, deviceID).Scan(&h); err != nil {
		return "", fmt.Errorf("read chain head: %w", err)
	}
	if h == nil {
		return syncproto.Genesis(deviceID), nil
	}
	return hex.EncodeToString(h), nil
}

func setChainHead(ctx context.Context, tx pgx.Tx, deviceID, head string) error {
	b, err := hex.DecodeString(head)
	if err != nil || len(b) == 0 {
		return fmt.Errorf("chain head %q is not a hash", head)
	}
	_, err = tx.Exec(ctx, `UPDATE sync.clients SET chain_head = $2 WHERE device_id = $1`, deviceID, b)
	return err
}

// checkChain judges one new act against head. A break refuses the act with
// CHAIN_BROKEN and a sentence naming the seq and the link that broke.
func checkChain(deviceID, head string, m syncproto.Mutation) (syncproto.ChainBreak, *workflow.Rejection) {
	b := syncproto.ChainCheck(head, m.Content(deviceID), m.PrevHash, m.Hash)
	if b == "" {
		return "", nil
	}
	return b, workflow.Reject(workflow.CodeChainBroken, "%s.", capitalize(b.Sentence(m.Seq)))
}

// checkAuthorClaim refuses an act whose hashed author is not the user whose
// session signed it: the chain must name who really acted.
func checkAuthorClaim(m syncproto.Mutation, actor workflow.Actor) *workflow.Rejection {
	if actor.ID == "" || actor.ID == m.AuthorID {
		return nil
	}
	return workflow.Reject(workflow.CodeUnauthenticated,
		"The act names %s as its author, but its token is a session of %s.", m.AuthorID, actor.Name)
}

// chainCols are the act's link as its audit row stores it (applyOne
// writes them with the row).
type chainCols struct {
	prev, hash, brk any
	author, args    string
}

func chainColumns(m syncproto.Mutation, b syncproto.ChainBreak) chainCols {
	prev, _ := hex.DecodeString(m.PrevHash)
	hash, _ := hex.DecodeString(m.Hash)
	c := chainCols{prev: nilIfEmpty(prev), hash: nilIfEmpty(hash), author: m.AuthorID, args: string(syncproto.CanonicalArgs(m.Args))}
	if b != "" {
		c.brk = string(b)
	}
	return c
}

func nilIfEmpty(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

func hashHex(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return hex.EncodeToString(b)
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
