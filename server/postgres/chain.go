package postgres

import (
	"encoding/hex"
	"fmt"

	"wardsync/syncproto"
	"wardsync/workflow"
)

// The act chain on the server (docs/provenance.md): each new seq is checked
// against the device's chain head before its author, its hashes are kept in
// the audit log, and the head moves to the received hash whatever the
// outcome.

// chainHeadOf is the hash of the device's last recorded act
// (sync.clients.chain_head, read with the device's row), or its genesis
// when none was hashed yet.
func chainHeadOf(deviceID string, stored []byte) string {
	if stored == nil {
		return syncproto.Genesis(deviceID)
	}
	return hex.EncodeToString(stored)
}

// chainHeadBytes is the head as sync.clients.chain_head stores it.
func chainHeadBytes(head string) ([]byte, error) {
	b, err := hex.DecodeString(head)
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("chain head %q is not a hash", head)
	}
	return b, nil
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
		"The act names %s as its author, but it was signed in a session of %s.", m.AuthorID, actor.Name)
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
