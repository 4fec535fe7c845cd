package syncproto

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// The act chain (docs/provenance.md). Every act a workstation queues carries
// hash = SHA-256(prev || content), prev being the raw 32 bytes of the hash
// of the device's previous act, or of the device's genesis for its first.
// The encoding is defined here only: the workstation computes it when it
// queues an act, the server when it receives one and again when
// "wardsync-server audit verify" re-reads the audit log.
//
// content is a sequence of netstrings ("<decimal length>:<bytes>,"), so that
// no choice of field values can make two different acts encode the same:
//
//	ns("wardsync-act-1") ns(deviceId) ns(decimal seq) ns(mutation id) ns(name)
//	ns(args) ns(occurredAt) ns(authorId)
//
// args are the act's arguments as compact JSON (json.Compact of the bytes
// queued; the wire carries exactly these bytes). occurredAt is UTC with
// milliseconds, "2006-01-02T15:04:05.000Z", the precision the wire keeps.
// The genesis of a device is SHA-256(ns("wardsync-genesis-1") ns(deviceId)).
// Hashes travel as 64 lowercase hex digits.

// HashHexLen is the length of a hash on the wire.
const HashHexLen = 2 * sha256.Size

const (
	actDomain     = "wardsync-act-1"
	genesisDomain = "wardsync-genesis-1"
	chainTime     = "2006-01-02T15:04:05.000Z"
)

// ActContent is what an act's hash covers.
type ActContent struct {
	DeviceID   string
	Seq        int64
	MutationID string
	Name       string
	Args       []byte
	OccurredAt time.Time
	AuthorID   string
}

// Content returns what m's hash covers, m being an act of deviceID.
func (m *Mutation) Content(deviceID string) ActContent {
	return ActContent{DeviceID: deviceID, Seq: m.Seq, MutationID: m.ID, Name: m.Name, Args: m.Args,
		OccurredAt: m.OccurredAt, AuthorID: m.AuthorID}
}

// Canonical is the content's byte encoding, the input of its hash after the
// previous hash.
func (c ActContent) Canonical() []byte {
	var b bytes.Buffer
	for _, f := range []string{actDomain, c.DeviceID, strconv.FormatInt(c.Seq, 10), c.MutationID, c.Name,
		string(CanonicalArgs(c.Args)), c.OccurredAt.UTC().Format(chainTime), c.AuthorID} {
		netstring(&b, f)
	}
	return b.Bytes()
}

// CanonicalArgs returns args as compact JSON; bytes that are not JSON (which
// no decoded frame carries) are taken as they are.
func CanonicalArgs(args []byte) []byte {
	var b bytes.Buffer
	if err := json.Compact(&b, args); err != nil {
		return args
	}
	return b.Bytes()
}

func netstring(b *bytes.Buffer, s string) {
	b.WriteString(strconv.Itoa(len(s)))
	b.WriteByte(':')
	b.WriteString(s)
	b.WriteByte(',')
}

// Genesis is the hash the first act of deviceID links to.
func Genesis(deviceID string) string {
	var b bytes.Buffer
	netstring(&b, genesisDomain)
	netstring(&b, deviceID)
	sum := sha256.Sum256(b.Bytes())
	return hex.EncodeToString(sum[:])
}

// ChainHash is the hash of an act with content c that follows the act whose
// hash is prev (hex). A prev that is not a hash is an error.
func ChainHash(prev string, c ActContent) (string, error) {
	p, err := decodeHash(prev)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write(p)
	h.Write(c.Canonical())
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ValidHash reports whether s is a hash as the wire carries it: 64 lowercase
// hex digits.
func ValidHash(s string) bool {
	_, err := decodeHash(s)
	return err == nil
}

func decodeHash(s string) ([]byte, error) {
	if len(s) != HashHexLen {
		return nil, fmt.Errorf("hash %q is not %d hex digits", clip(s), HashHexLen)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return nil, fmt.Errorf("hash %q is not lowercase hex", clip(s))
		}
	}
	return hex.DecodeString(s)
}

// Chain fills PrevHash and Hash of muts, consecutive acts of deviceID of
// which the first follows the act hashed head ("" for the device's first
// act: its genesis), and returns the new head. Workstations and test clients
// use it; the server checks what it computes.
func Chain(deviceID, head string, muts []Mutation) (string, error) {
	if head == "" {
		head = Genesis(deviceID)
	}
	for i := range muts {
		h, err := ChainHash(head, muts[i].Content(deviceID))
		if err != nil {
			return "", err
		}
		muts[i].PrevHash, muts[i].Hash = head, h
		head = h
	}
	return head, nil
}

// ChainCheck says whether one act's chain holds. It returns "" when it does,
// ChainBrokenContent when its hash does not match its content (modified
// after it was written), and ChainBrokenLink when it does not link to head,
// the hash of the device's previous act (removed or reordered). The content
// is checked first: a modified act is reported as such even when it also
// does not link.
func ChainCheck(head string, c ActContent, prevHash, hash string) ChainBreak {
	if h, err := ChainHash(prevHash, c); err != nil || h != hash {
		return ChainBrokenContent
	}
	if prevHash != head {
		return ChainBrokenLink
	}
	return ""
}

// ChainBreak names which part of the chain failed.
type ChainBreak string

// The two ways a chain breaks.
const (
	ChainBrokenContent ChainBreak = "content"
	ChainBrokenLink    ChainBreak = "link"
)

// Sentence is the human sentence of a break at act seq, as results and
// reports show it.
func (b ChainBreak) Sentence(seq int64) string {
	switch b {
	case ChainBrokenContent:
		return fmt.Sprintf("act %d's content does not match its hash (modified after it was written)", seq)
	case ChainBrokenLink:
		if seq <= 1 {
			return fmt.Sprintf("act %d does not start this workstation's chain (an act was removed or reordered)", seq)
		}
		return fmt.Sprintf("act %d does not follow act %d (an act was removed or reordered)", seq, seq-1)
	}
	return ""
}

// Chainer links the mutations of a client that builds its own frames (test
// clients, load generators): it remembers the hash it gave each seq of one
// device and links seq s to the hash of s-1 (the genesis for seq 1, or the
// head given to Follow). A workstation keeps its chain in its replica
// instead. Safe for concurrent use.
type Chainer struct {
	DeviceID string

	mu    sync.Mutex
	bySeq map[int64]string
}

// Follow says that seq's hash is head, e.g. from a welcome.
func (c *Chainer) Follow(seq int64, head string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.heads()[seq] = head
}

// heads is the hash of each seq, made on first use; c.mu is held.
func (c *Chainer) heads() map[int64]string {
	if c.bySeq == nil {
		c.bySeq = map[int64]string{}
	}
	return c.bySeq
}

// Link fills PrevHash and Hash of every mutation of muts that has no Hash.
func (c *Chainer) Link(muts []Mutation) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	bySeq := c.heads()
	for i := range muts {
		m := &muts[i]
		if m.Hash != "" {
			bySeq[m.Seq] = m.Hash
			continue
		}
		prev := bySeq[m.Seq-1]
		if prev == "" {
			prev = Genesis(c.DeviceID)
		}
		h, err := ChainHash(prev, m.Content(c.DeviceID))
		if err != nil {
			return err
		}
		m.PrevHash, m.Hash = prev, h
		bySeq[m.Seq] = h
	}
	return nil
}
