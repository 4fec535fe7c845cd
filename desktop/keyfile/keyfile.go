// Package keyfile keeps a workstation's key slots: the replica's data key,
// wrapped once per user who may log in here, under a key derived from that
// user's password with Argon2id. The file lives beside the replica (which
// cannot be read before one slot is opened) and holds nothing usable
// without a password: the slots, and the device id and server address the
// login screen needs before the replica is open.
//
// Offline login is opening the user's slot: the right password unwraps the
// data key, a wrong one fails GCM's authentication. There is no separate
// password verifier.
package keyfile

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"
)

// KeySize is the data key's length (AES-256).
const KeySize = 32

// Params are Argon2id's cost parameters for one slot.
type Params struct {
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memoryKiB"`
	Threads   uint8  `json:"threads"`
}

// DefaultParams make one password guess cost at least 250 ms and 64 MiB
// on a ward PC (docs/security.md gives the measurement: go test -bench
// Unwrap ./desktop/keyfile/).
var DefaultParams = Params{Time: 6, MemoryKiB: 64 * 1024, Threads: 1}

// ErrWrongPassword: the password does not open the slot.
var ErrWrongPassword = errors.New("keyfile: the password does not open this slot")

// File is the key file's content.
type File struct {
	Version   int    `json:"version"`
	DeviceID  string `json:"deviceId,omitempty"`
	ServerURL string `json:"serverUrl,omitempty"`
	Slots     []Slot `json:"slots"`
	// Wiped says the server revoked this workstation: the data key and the
	// slots were destroyed then, and why.
	Wiped *Wipe `json:"wiped,omitempty"`
}

// Wipe records a wipe on revocation.
type Wipe struct {
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
}

// Slot is the data key wrapped for one user.
type Slot struct {
	UserID    string    `json:"userId"`
	Email     string    `json:"email"`
	Params    Params    `json:"params"`
	Salt      []byte    `json:"salt"`
	Nonce     []byte    `json:"nonce"`
	Wrapped   []byte    `json:"wrapped"`
	CreatedAt time.Time `json:"createdAt"`
	// Session is the private key of the user's last online session here,
	// sealed under the same password-derived key as the data key: offline
	// login gets it back, nobody without the password does, and another
	// user of the workstation (who can open the replica) cannot sign as
	// this one. Logout removes it (DropSession).
	Session *SealedSession `json:"session,omitempty"`
}

// SealedSession is a session's Ed25519 private key sealed in a slot.
type SealedSession struct {
	SessionID string `json:"sessionId"`
	Nonce     []byte `json:"nonce"`
	Sealed    []byte `json:"sealed"`
}

// SessionKey is a session's signing key as a slot gives it back.
type SessionKey struct {
	SessionID string
	Priv      ed25519.PrivateKey
}

const version = 1

// Load reads the key file at path; a missing file is an empty one.
func Load(path string) (*File, error) {
	b, err := ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keyfile: %w", err)
	}
	if b == nil {
		return &File{Version: version}, nil
	}
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("keyfile: %s is not a key file: %w", path, err)
	}
	if f.Version != version {
		return nil, fmt.Errorf("keyfile: %s has version %d, want %d", path, f.Version, version)
	}
	return &f, nil
}

// Save writes the file atomically, 0600 in a 0700 folder (WriteFile).
func (f *File) Save(path string) error {
	f.Version = version
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := WriteFile(path, b); err != nil {
		return fmt.Errorf("keyfile: %w", err)
	}
	return nil
}

// ReadFile reads a key file the workstation keeps beside its replica (this
// package's slots, desktop/devicekey's device key): nil and no error when
// there is none, which for both means "not made yet".
func ReadFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// WriteFile writes a key file atomically (a temporary file synced and
// renamed over it, then the folder synced), 0600 in a 0700 folder: a power
// cut leaves the old key or the new one, never half of one, and no other
// account on the PC reads it. desktop/devicekey writes its file with it too.
func WriteFile(path string, b []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() // the rename itself survives a power cut
		d.Close()
	}
	return nil
}

func normEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

// Slot is the slot of the user with that email (any case), or nil.
func (f *File) Slot(email string) *Slot {
	for i := range f.Slots {
		if f.Slots[i].Email == normEmail(email) {
			return &f.Slots[i]
		}
	}
	return nil
}

// Put adds s, replacing the user's previous slot and any slot that held the
// same email.
func (f *File) Put(s Slot) {
	out := f.Slots[:0]
	for _, o := range f.Slots {
		if o.UserID != s.UserID && o.Email != s.Email {
			out = append(out, o)
		}
	}
	f.Slots = append(out, s)
}

// Remove drops the user's slot; it reports whether there was one.
func (f *File) Remove(userID string) bool {
	out := f.Slots[:0]
	for _, o := range f.Slots {
		if o.UserID != userID {
			out = append(out, o)
		}
	}
	removed := len(out) != len(f.Slots)
	f.Slots = out
	return removed
}

// NewDataKey is a fresh random data key.
func NewDataKey() []byte {
	k := make([]byte, KeySize)
	rand.Read(k)
	return k
}

// NewSlot wraps key for the user under their password.
func NewSlot(userID, email, password string, key []byte, p Params, now time.Time) (Slot, error) {
	return NewSessionSlot(userID, email, password, key, nil, p, now)
}

// NewSessionSlot is NewSlot that also seals the user's session signing key
// (nil: none), with one password derivation for both.
func NewSessionSlot(userID, email, password string, key []byte, sess *SessionKey, p Params, now time.Time) (Slot, error) {
	if len(key) != KeySize {
		return Slot{}, fmt.Errorf("keyfile: the data key is %d bytes, want %d", len(key), KeySize)
	}
	s := Slot{UserID: userID, Email: normEmail(email), Params: p, Salt: make([]byte, 16), Nonce: make([]byte, 12), CreatedAt: now.UTC()}
	rand.Read(s.Salt)
	rand.Read(s.Nonce)
	aead, err := s.kek(password)
	if err != nil {
		return Slot{}, err
	}
	s.Wrapped = aead.Seal(nil, s.Nonce, key, s.aad())
	if sess != nil {
		ss := &SealedSession{SessionID: sess.SessionID, Nonce: make([]byte, 12)}
		rand.Read(ss.Nonce)
		ss.Sealed = aead.Seal(nil, ss.Nonce, sess.Priv.Seed(), s.sessionAAD(ss.SessionID))
		s.Session = ss
	}
	return s, nil
}

// Unwrap opens the slot with password: the data key, or ErrWrongPassword.
func (s *Slot) Unwrap(password string) ([]byte, error) {
	key, _, err := s.Open(password)
	return key, err
}

// Open opens the slot with password: the data key and, if the slot holds
// one, the session signing key; or ErrWrongPassword.
func (s *Slot) Open(password string) ([]byte, *SessionKey, error) {
	aead, err := s.kek(password)
	if err != nil {
		return nil, nil, err
	}
	key, err := aead.Open(nil, s.Nonce, s.Wrapped, s.aad())
	if err != nil {
		return nil, nil, ErrWrongPassword
	}
	if s.Session == nil {
		return key, nil, nil
	}
	seed, err := aead.Open(nil, s.Session.Nonce, s.Session.Sealed, s.sessionAAD(s.Session.SessionID))
	if err != nil || len(seed) != ed25519.SeedSize {
		return key, nil, nil // a damaged session key: the user logs in online again
	}
	return key, &SessionKey{SessionID: s.Session.SessionID, Priv: ed25519.NewKeyFromSeed(seed)}, nil
}

// DropSession destroys the user's sealed session key (logout): no act can
// be signed for that session afterwards. It reports whether there was one.
func (f *File) DropSession(userID string) bool {
	dropped := false
	for i := range f.Slots {
		if f.Slots[i].UserID == userID && f.Slots[i].Session != nil {
			clear(f.Slots[i].Session.Sealed)
			f.Slots[i].Session = nil
			dropped = true
		}
	}
	return dropped
}

// sessionAAD binds a sealed session key to its owner and session.
func (s *Slot) sessionAAD(sessionID string) []byte {
	return fmt.Appendf(nil, "wardsync session key v1\x00%s\x00%s", s.UserID, sessionID)
}

func (s *Slot) kek(password string) (cipher.AEAD, error) {
	if s.Params.Time == 0 || s.Params.MemoryKiB < 8 || s.Params.Threads == 0 || len(s.Salt) < 16 || len(s.Nonce) != 12 {
		return nil, fmt.Errorf("keyfile: the slot of %s is malformed", s.Email)
	}
	k := argon2.IDKey([]byte(password), s.Salt, s.Params.Time, s.Params.MemoryKiB, s.Params.Threads, KeySize)
	defer clear(k)
	b, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// aad binds the wrapped key to the slot's owner and costs: a slot copied
// to another user, or with its costs lowered, does not open.
func (s *Slot) aad() []byte {
	return fmt.Appendf(nil, "wardsync key slot v1\x00%s\x00%s\x00%d/%d/%d", s.UserID, s.Email, s.Params.Time, s.Params.MemoryKiB, s.Params.Threads)
}
