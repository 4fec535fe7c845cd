-- The act chain (docs/provenance.md): every act a workstation sends carries
-- hash = SHA-256(prevHash || content). The audit log keeps both hashes, the
-- author id and the exact argument bytes that were hashed, so that
-- "wardsync-server audit verify" can recompute every link later; args (jsonb)
-- reorders keys and cannot be hashed again. chain_break records a break
-- found at push ('content' or 'link'; NULL when the chain held).
-- sync.clients keeps each device's chain head: the hash of its last act.
-- Acts recorded before this migration have no hash; a device's chain starts
-- at its genesis with its first hashed act.

-- +goose Up
ALTER TABLE sync.mutations
    ADD COLUMN prev_hash    BYTEA,
    ADD COLUMN hash         BYTEA,
    ADD COLUMN chain_author TEXT,
    ADD COLUMN chain_args   TEXT,
    ADD COLUMN chain_break  TEXT CHECK (chain_break IN ('content', 'link'));

ALTER TABLE sync.clients ADD COLUMN chain_head BYTEA;

-- The dashboard's alert and the audit filter read the few broken links.
CREATE INDEX mutations_chain_break_idx ON sync.mutations (received_at) WHERE chain_break IS NOT NULL;

-- +goose Down
DROP INDEX sync.mutations_chain_break_idx;
ALTER TABLE sync.clients DROP COLUMN chain_head;
ALTER TABLE sync.mutations
    DROP COLUMN chain_break,
    DROP COLUMN chain_args,
    DROP COLUMN chain_author,
    DROP COLUMN hash,
    DROP COLUMN prev_hash;
