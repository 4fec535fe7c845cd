// Package devicekey keeps a workstation's own Ed25519 key: made when the
// workstation is claimed with its one-time code, its public half
// registered with the server, its private half proving at every login and
// websocket upgrade that this is the claimed workstation
// (syncproto.ProveDevice).
//
// The key lives in one file beside the replica (the replica's folder is
// made 0700, the file 0600). On Windows its content is sealed with DPAPI
// (CryptProtectData, bound to the Windows account that claimed): copied to
// another PC or account it opens nothing. Elsewhere, or when DPAPI fails
// (as it may under wine), the file holds the key as it is, protected by
// its mode alone. Either way the key alone opens no socket: that also
// needs a live session's proof, whose key is sealed under a user's
// password (desktop/keyfile). docs/security.md, "Device identity".
package devicekey

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"

	"wardsync/desktop/keyfile"
	"wardsync/syncproto"
)

// File is the key file's content.
type File struct {
	Version int `json:"version"`
	// Protection says how Sealed holds the key's seed: "dpapi" or "file"
	// (as it is).
	Protection string `json:"protection"`
	Sealed     []byte `json:"sealed"`
}

// Create makes a new device key, stores it at path (replacing any older
// one: a workstation claimed again proves with its new key only) and
// returns its public half for the claim.
func Create(path string) (ed25519.PublicKey, error) {
	pub, priv := syncproto.NewKey()
	seed := priv.Seed()
	defer clear(seed)
	f := File{Version: 1}
	var err error
	if f.Sealed, f.Protection, err = seal(seed); err != nil {
		return nil, err
	}
	b, err := json.Marshal(f)
	if err != nil {
		return nil, err
	}
	if err := keyfile.WriteFile(path, b); err != nil {
		return nil, fmt.Errorf("devicekey: %w", err)
	}
	return pub, nil
}

// Load reads the device key at path; nil (and no error) when there is
// none: a workstation claimed before device keys.
func Load(path string) (ed25519.PrivateKey, error) {
	b, err := keyfile.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("devicekey: %w", err)
	}
	if b == nil {
		return nil, nil
	}
	var f File
	if err := json.Unmarshal(b, &f); err != nil || f.Version != 1 {
		return nil, fmt.Errorf("devicekey: %s is not a device key file", path)
	}
	seed, err := unseal(f.Sealed, f.Protection)
	if err != nil {
		return nil, fmt.Errorf("devicekey: %s: %w", path, err)
	}
	defer clear(seed)
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("devicekey: %s holds no Ed25519 key", path)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

func unsealFile(b []byte) ([]byte, error) { return append([]byte(nil), b...), nil }
