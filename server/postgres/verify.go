package postgres

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"github.com/jackc/pgx/v5"

	"wardsync/syncproto"
)

// ChainBreak is the first broken link of one device's chain found by
// VerifyChains.
type ChainBreak struct {
	DeviceID   string
	DeviceName string
	Seq        int64
	// Problem is the sentence: which link broke, and how.
	Problem string
	// Expected and Found are what the link should hold and what it holds
	// (hex hashes, or for changed args the hashed and the stored text).
	Expected, Found string
	// AtPush says the server already found (and refused) this break when
	// the act arrived; otherwise the audit log was changed afterwards.
	AtPush bool
}

// ChainReport is what VerifyChains found.
type ChainReport struct {
	Devices int
	Acts    int64
	Breaks  []ChainBreak
}

// VerifyChains re-checks the act chain of every device (or of deviceID
// alone) from the audit log: each hashed act's hash against its stored
// content, each link against the act before it, the stored jsonb args
// against the bytes that were hashed, and the last act against the device's
// chain head. Rows stream in (device, seq) order from one snapshot, so
// memory stays constant however long the log; progress, when set, is
// called every progressEvery acts. Acts recorded before the chain existed
// (no hash, before the device's first hashed act) are not checked.
func (db *DB) VerifyChains(ctx context.Context, deviceID string, progress func(acts int64)) (ChainReport, error) {
	var rep ChainReport
	err := db.inTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		rep = ChainReport{}
		return verifyChains(ctx, tx, deviceID, progress, &rep)
	})
	return rep, err
}

const progressEvery = 10000

// deviceChain is the walk's state for the device being read.
type deviceChain struct {
	id, name string
	head     []byte // sync.clients.chain_head
	prev     string // hash of the last act seen; "" before the first hashed act
	lastSeq  int64
	broken   bool
}

func verifyChains(ctx context.Context, tx pgx.Tx, deviceID string, progress func(int64), rep *ChainReport) error {
	rows, err := tx.Query(ctx, `
		SELECT m.device_id, d.name, c.chain_head, m.seq, m.mutation_id, m.name, m.args::text, m.occurred_at,
		       m.prev_hash, m.hash, m.chain_author, m.chain_args, m.chain_break
		  FROM sync.mutations m JOIN sync.devices d ON d.id = m.device_id LEFT JOIN sync.clients c ON c.device_id = m.device_id
		 WHERE $1 = '' OR m.device_id = $1
		 ORDER BY m.device_id, m.seq`, deviceID)
	if err != nil {
		return err
	}
	defer rows.Close()
	var cur *deviceChain
	finish := func() {
		if cur == nil || cur.broken || cur.prev == "" {
			return
		}
		// A deleted last act leaves no later link to break: the head the
		// server kept says what the last act was.
		if head := hashHex(cur.head); head != "" && head != cur.prev {
			rep.Breaks = append(rep.Breaks, ChainBreak{DeviceID: cur.id, DeviceName: cur.name, Seq: cur.lastSeq + 1,
				Problem:  fmt.Sprintf("the acts after act %d are missing from the audit log (removed after they were recorded)", cur.lastSeq),
				Expected: head, Found: cur.prev})
		}
	}
	for rows.Next() {
		var (
			dev, name, mid, mname, args string
			head, prevB, hashB          []byte
			seq                         int64
			at                          time.Time
			author, chainArgs, brk      *string
		)
		if err := rows.Scan(&dev, &name, &head, &seq, &mid, &mname, &args, &at, &prevB, &hashB, &author, &chainArgs, &brk); err != nil {
			return err
		}
		if cur == nil || cur.id != dev {
			finish()
			cur = &deviceChain{id: dev, name: name, head: head}
			rep.Devices++
		}
		rep.Acts++
		if progress != nil && rep.Acts%progressEvery == 0 {
			progress(rep.Acts)
		}
		if cur.broken {
			continue
		}
		b := checkRow(cur, seq, mid, mname, args, at, prevB, hashB, author, chainArgs)
		cur.lastSeq = seq
		if b != nil {
			b.DeviceID, b.DeviceName, b.Seq, b.AtPush = dev, name, seq, brk != nil
			rep.Breaks = append(rep.Breaks, *b)
			cur.broken = true
			continue
		}
		if hashB != nil {
			cur.prev = hex.EncodeToString(hashB)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	finish()
	if progress != nil && rep.Acts%progressEvery != 0 {
		progress(rep.Acts)
	}
	return nil
}

// checkRow judges one audit row against the chain so far; nil means it holds.
func checkRow(cur *deviceChain, seq int64, mid, name, args string, at time.Time, prevB, hashB []byte,
	author, chainArgs *string) *ChainBreak {
	if hashB == nil {
		if cur.prev == "" {
			return nil // recorded before the chain existed
		}
		return &ChainBreak{Problem: fmt.Sprintf("act %d has no hash (its link was erased after it was recorded)", seq),
			Expected: "a hash following " + cur.prev, Found: "none"}
	}
	expectPrev := cur.prev
	if expectPrev == "" {
		expectPrev = syncproto.Genesis(cur.id)
	}
	prev, hash := hex.EncodeToString(prevB), hex.EncodeToString(hashB)
	c := syncproto.ActContent{DeviceID: cur.id, Seq: seq, MutationID: mid, Name: name, OccurredAt: at}
	if author != nil {
		c.AuthorID = *author
	}
	if chainArgs != nil {
		c.Args = []byte(*chainArgs)
	}
	switch syncproto.ChainCheck(expectPrev, c, prev, hash) {
	case syncproto.ChainBrokenContent:
		want, _ := syncproto.ChainHash(prev, c)
		return &ChainBreak{Problem: syncproto.ChainBrokenContent.Sentence(seq), Expected: want, Found: hash}
	case syncproto.ChainBrokenLink:
		return &ChainBreak{Problem: syncproto.ChainBrokenLink.Sentence(seq), Expected: expectPrev, Found: prev}
	}
	if !sameArgs(args, c.Args) {
		return &ChainBreak{Problem: fmt.Sprintf("act %d's args in the audit log are not the args it was hashed with (modified after it was recorded)", seq),
			Expected: string(c.Args), Found: args}
	}
	return nil
}

// sameArgs compares the audit log's jsonb args with the hashed bytes. jsonb
// reorders keys and rewrites numbers, so the comparison is of values;
// arguments jsonb could not take were stored as one JSON string (auditArgs).
func sameArgs(stored string, hashed []byte) bool {
	want := auditArgs(json.RawMessage(hashed))
	var a, b any
	if json.Unmarshal([]byte(stored), &a) != nil || json.Unmarshal(want, &b) != nil {
		return false
	}
	return reflect.DeepEqual(a, b)
}
