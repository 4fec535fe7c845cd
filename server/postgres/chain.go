package postgres

import (
	"context"
	"encoding/hex"

	"wardsync/pipeline"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// The act chain on the server (docs/provenance.md): each new seq is checked
// against the device's chain head before its author, its hashes are kept in
// the audit log, and the head moves to the received hash whatever the
// outcome.

// checkChain judges one new act against head. A break refuses the act with
// CHAIN_BROKEN and a sentence naming the seq and the link that broke.
func checkChain(deviceID, head string, m syncproto.Mutation) (syncproto.ChainBreak, *workflow.Rejection) {
	b := syncproto.ChainCheck(head, m.Content(deviceID), m.PrevHash, m.Hash)
	if b == "" {
		return "", nil
	}
	return b, workflow.Reject(workflow.CodeChainBroken, "%s.", capitalize(b.Sentence(m.Seq)))
}

// Chain judges the act against the device's chain head; the break, if
// any, is kept with its audit row (record.go).
func (st *pushStore) Chain(_ context.Context, a *pipeline.Act) (*workflow.Rejection, error) {
	b, rej := checkChain(st.deviceID, st.head, a.Mutation)
	st.chainBreak = b
	return rej, nil
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
