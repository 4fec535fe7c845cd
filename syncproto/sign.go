package syncproto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"sync"

	"wardsync/workflow"
)

// Signatures (protocol 2, docs/security.md "Keys"). Three things are
// signed with Ed25519, each over its own domain-separated netstring
// message so that no signature of one kind is ever valid as another:
//
//   - an act, by its author's session key, over its chain hash and the
//     session id: ns("wardsync-act-sig-1") ns(sessionId) ns(hash). The
//     verifier recomputes the hash from the act's content, so changed
//     args (or author, name, occurredAt, seq, id, prevHash) break it;
//   - a device proof, by the workstation's own key from its claim, over a
//     server nonce: ns("wardsync-device-proof-1") ns(deviceId) ns(purpose)
//     ns(nonce);
//   - a session proof (the websocket upgrade), by a session's key, over the
//     same nonce: ns("wardsync-session-proof-1") ns(sessionId)
//     ns(deviceId) ns(nonce).
//
// Signatures and nonces travel as unpadded base64url; public keys as
// standard base64 in JSON (Go's []byte).
//
// These are the only functions that sign or verify: the workstation
// (desktop), the server and every test client call them.

// SignatureLen is the length of a signature on the wire (86 characters).
var SignatureLen = base64.RawURLEncoding.EncodedLen(ed25519.SignatureSize)

// Proof purposes: what a device proof is for, so that a proof made for a
// login cannot open a socket and the other way round.
const (
	PurposeLogin = "login"
	PurposeSync  = "sync"
)

const (
	actSigDomain       = "wardsync-act-sig-1"
	deviceProofDomain  = "wardsync-device-proof-1"
	sessionProofDomain = "wardsync-session-proof-1"
)

func message(fields ...string) []byte {
	var b bytes.Buffer
	for _, f := range fields {
		netstring(&b, f)
	}
	return b.Bytes()
}

func sign(priv ed25519.PrivateKey, msg []byte) string {
	return base64.RawURLEncoding.EncodeToString(ed25519.Sign(priv, msg))
}

func verify(pub []byte, msg []byte, sig string) bool {
	if len(pub) != ed25519.PublicKeySize || len(sig) != SignatureLen {
		return false
	}
	s, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return false
	}
	return ed25519.Verify(ed25519.PublicKey(pub), msg, s)
}

// NewKey is a fresh Ed25519 key pair (a session's, or a device's).
func NewKey() (ed25519.PublicKey, ed25519.PrivateKey) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return pub, priv
}

// SignAct sets m's SessionID and Signature: m, already chained (Hash
// set), signed with the key of session sessionID.
func SignAct(priv ed25519.PrivateKey, sessionID string, m *Mutation) {
	m.SessionID = sessionID
	m.Signature = sign(priv, message(actSigDomain, sessionID, m.Hash))
}

// Sentences of VerifyAct's refusals.
const (
	MsgActUnsigned = "The act carries no signature; protocol 2 requires every act to be signed with its author's session key: update the workstation."
	MsgActNoKey    = "The act's session has no signing key (it was opened by a workstation of protocol 1); its author must log in again."
	MsgActBadSig   = "The act's signature does not match its content and session: it was changed after it was signed, or signed with another session's key."
)

// VerifyAct is the server's one check of an act's signature: m, an act of
// deviceID, must be signed by pub (the public key of m.SessionID, which the
// caller looked up) over the hash of its own content. It returns nil, or
// the UNAUTHENTICATED refusal.
func VerifyAct(pub []byte, deviceID string, m *Mutation) *workflow.Rejection {
	return VerifyActMemo(nil, pub, deviceID, m)
}

// VerifyActMemo is VerifyAct, taking the signatures memo (nil: none)
// already found valid and adding those it finds valid. Whether a signature
// is valid depends on the key, the message and the signature alone, so a
// memo filled ahead (by another goroutine, with the key it knew then)
// answers only for the same three: an act whose session's key is not the
// one the memo's entry was verified with is verified here.
func VerifyActMemo(memo *SigMemo, pub []byte, deviceID string, m *Mutation) *workflow.Rejection {
	if m.Signature == "" {
		return workflow.Reject(workflow.CodeUnauthenticated, MsgActUnsigned)
	}
	if len(pub) != ed25519.PublicKeySize {
		return workflow.Reject(workflow.CodeUnauthenticated, MsgActNoKey)
	}
	h, err := ChainHash(m.PrevHash, m.Content(deviceID))
	if err != nil {
		return workflow.Reject(workflow.CodeUnauthenticated, MsgActBadSig)
	}
	msg := message(actSigDomain, m.SessionID, h)
	if memo.has(pub, msg, m.Signature) {
		return nil
	}
	if !verify(pub, msg, m.Signature) {
		return workflow.Reject(workflow.CodeUnauthenticated, MsgActBadSig)
	}
	memo.add(pub, msg, m.Signature)
	return nil
}

// SigMemo holds act signatures found valid, each with the key and message
// it was verified against. Safe for concurrent use; the zero value is
// empty.
type SigMemo struct{ ok sync.Map }

func memoKey(pub, msg []byte, sig string) string {
	return string(message(string(pub), string(msg), sig))
}

func (m *SigMemo) has(pub, msg []byte, sig string) bool {
	if m == nil {
		return false
	}
	_, ok := m.ok.Load(memoKey(pub, msg, sig))
	return ok
}

func (m *SigMemo) add(pub, msg []byte, sig string) {
	if m != nil {
		m.ok.Store(memoKey(pub, msg, sig), struct{}{})
	}
}

// NewNonce is a fresh challenge nonce, as the server hands it out.
func NewNonce() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// ProveDevice signs the server's nonce with the device's key, for purpose
// (PurposeLogin or PurposeSync).
func ProveDevice(priv ed25519.PrivateKey, deviceID, purpose, nonce string) string {
	return sign(priv, message(deviceProofDomain, deviceID, purpose, nonce))
}

// VerifyDevice checks a device proof against the device's public key.
func VerifyDevice(pub []byte, deviceID, purpose, nonce, proof string) bool {
	return verify(pub, message(deviceProofDomain, deviceID, purpose, nonce), proof)
}

// ProveSession signs the server's nonce with a session's key (the
// websocket upgrade: a live session is present on this workstation).
func ProveSession(priv ed25519.PrivateKey, sessionID, deviceID, nonce string) string {
	return sign(priv, message(sessionProofDomain, sessionID, deviceID, nonce))
}

// VerifySession checks a session proof against the session's public key.
func VerifySession(pub []byte, sessionID, deviceID, nonce, proof string) bool {
	return verify(pub, message(sessionProofDomain, sessionID, deviceID, nonce), proof)
}

// SessionKey is a session's signing key as a client holds it.
type SessionKey struct {
	SessionID string
	Priv      ed25519.PrivateKey
}

// Keyring holds session keys by a handle the client chooses (a
// workstation: the user id; a test client: the token its login returned),
// in memory only. Safe for concurrent use.
type Keyring struct {
	mu   sync.Mutex
	keys map[string]SessionKey
}

// Put remembers k under handle.
func (r *Keyring) Put(handle string, k SessionKey) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.keys == nil {
		r.keys = map[string]SessionKey{}
	}
	r.keys[handle] = k
}

// Get returns the key under handle.
func (r *Keyring) Get(handle string) (SessionKey, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k, ok := r.keys[handle]
	return k, ok
}

// Forget destroys the key under handle (logout).
func (r *Keyring) Forget(handle string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if k, ok := r.keys[handle]; ok {
		clear(k.Priv)
		delete(r.keys, handle)
	}
}

// The websocket upgrade's headers of protocol 2: the device proves its
// key and a live session proves its own, both over one nonce from POST
// /api/v1/auth/challenge. No bearer token opens a socket of a workstation
// that has a device key.
const (
	HeaderDevice       = "X-Wardsync-Device"
	HeaderNonce        = "X-Wardsync-Nonce"
	HeaderDeviceProof  = "X-Wardsync-Device-Proof"
	HeaderSession      = "X-Wardsync-Session"
	HeaderSessionProof = "X-Wardsync-Session-Proof"
)

// UpgradeHeaders are the headers of a protocol 2 websocket upgrade by
// deviceID (whose key is devicePriv; nil for a workstation that has no
// device key yet) with session sk, over nonce.
func UpgradeHeaders(deviceID string, devicePriv ed25519.PrivateKey, sk SessionKey, nonce string) map[string]string {
	h := map[string]string{
		HeaderDevice:       deviceID,
		HeaderNonce:        nonce,
		HeaderSession:      sk.SessionID,
		HeaderSessionProof: ProveSession(sk.Priv, sk.SessionID, deviceID, nonce),
	}
	if devicePriv != nil {
		h[HeaderDeviceProof] = ProveDevice(devicePriv, deviceID, PurposeSync, nonce)
	}
	return h
}

// Clear destroys every key (a wipe).
func (r *Keyring) Clear() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for h, k := range r.keys {
		clear(k.Priv)
		delete(r.keys, h)
	}
}
