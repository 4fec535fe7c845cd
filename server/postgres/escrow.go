package postgres

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// EscrowKeySize is the length of the server's escrow key (AES-256).
const EscrowKeySize = 32

// Escrows reports whether the server escrows replica keys (Config.EscrowKey
// is set).
func (db *DB) Escrows() bool { return len(db.Config.EscrowKey) == EscrowKeySize }

// ReplicaKey is the data key escrowed for the device's replica, made (and
// stored sealed under the escrow key) on the first request. Callers release
// it only to a device that just logged in.
func (db *DB) ReplicaKey(ctx context.Context, deviceID string) ([]byte, error) {
	aead, err := db.escrowAEAD()
	if err != nil {
		return nil, err
	}
	aad := []byte("wardsync replica key v1\x00" + deviceID)
	key := make([]byte, 32)
	rand.Read(key)
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	sealed := aead.Seal(nonce, nonce, key, aad)
	// The first login of a device stores its key; a concurrent one keeps
	// the key stored first.
	if _, err := db.Pool.Exec(ctx, `INSERT INTO sync.device_keys (device_id, sealed, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (device_id) DO NOTHING`, deviceID, sealed, db.now()); err != nil {
		return nil, err
	}
	if err := db.Pool.QueryRow(ctx, `SELECT sealed FROM sync.device_keys WHERE device_id = $1`, deviceID).Scan(&sealed); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("postgres: the escrowed key of device %s vanished", deviceID)
		}
		return nil, err
	}
	if len(sealed) < aead.NonceSize() {
		return nil, fmt.Errorf("postgres: the escrowed key of device %s is malformed", deviceID)
	}
	key, err = aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], aad)
	if err != nil {
		return nil, fmt.Errorf("postgres: the escrowed key of device %s does not open with this server's escrow key (was -escrow-key-file changed?)", deviceID)
	}
	return key, nil
}

func (db *DB) escrowAEAD() (cipher.AEAD, error) {
	if !db.Escrows() {
		return nil, errors.New("postgres: no escrow key is configured")
	}
	b, err := aes.NewCipher(db.Config.EscrowKey)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}
