package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// batchTx is a transaction whose BEGIN travels in one round trip with its
// first statements, and whose COMMIT with its last: pgx.Tx sends each on
// its own, and an online workstation's push of one act waits for every
// round trip of its transaction (two of its five). The caller queues them
// (queueBegin, queueCommit); in between it is an ordinary pgx.Tx.
type batchTx struct {
	conn *pgx.Conn
	// begun: BEGIN was queued; ended: COMMIT was queued, or the
	// transaction was rolled back.
	begun, ended bool
}

var errNotBegun = errors.New("batchTx: a statement was sent before the transaction's BEGIN")

// queueBegin opens the transaction as b's first statement: b must be
// empty, and sent before any other statement of the transaction.
func (tx *batchTx) queueBegin(b *pgx.Batch) {
	b.Queue(`BEGIN`)
	tx.begun = true
}

// queueCommit ends b with the transaction's COMMIT: once b is sent and
// closed without error, the transaction has committed.
func (tx *batchTx) queueCommit(b *pgx.Batch) {
	b.Queue(`COMMIT`).Exec(func(tag pgconn.CommandTag) error {
		if tag.String() == "ROLLBACK" {
			return pgx.ErrTxCommitRollback
		}
		return nil
	})
	tx.ended = true
}

// Begin would nest a transaction; the push path never does.
func (tx *batchTx) Begin(context.Context) (pgx.Tx, error) {
	return nil, errors.New("batchTx: nested transactions are not supported")
}

// Commit commits a transaction whose COMMIT was not queued.
func (tx *batchTx) Commit(ctx context.Context) error {
	if !tx.begun || tx.ended {
		return pgx.ErrTxClosed
	}
	tx.ended = true
	tag, err := tx.conn.Exec(ctx, `COMMIT`)
	if err != nil {
		return err
	}
	if tag.String() == "ROLLBACK" {
		return pgx.ErrTxCommitRollback
	}
	return nil
}

// Rollback ends the transaction if it is still open on the connection (a
// COMMIT that failed in its batch has ended it already).
func (tx *batchTx) Rollback(ctx context.Context) error {
	tx.ended = true
	if tx.conn.PgConn().TxStatus() == 'I' {
		return nil
	}
	_, err := tx.conn.Exec(ctx, `ROLLBACK`)
	return err
}

func (tx *batchTx) CopyFrom(ctx context.Context, table pgx.Identifier, cols []string, src pgx.CopyFromSource) (int64, error) {
	if !tx.begun {
		return 0, errNotBegun
	}
	return tx.conn.CopyFrom(ctx, table, cols, src)
}

func (tx *batchTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	return tx.conn.SendBatch(ctx, b)
}

// LargeObjects are not used by the push path; pgx offers no way to make
// them on another Tx.
func (tx *batchTx) LargeObjects() pgx.LargeObjects { return pgx.LargeObjects{} }

func (tx *batchTx) Prepare(ctx context.Context, name, sql string) (*pgconn.StatementDescription, error) {
	return tx.conn.Prepare(ctx, name, sql)
}

func (tx *batchTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if !tx.begun {
		return pgconn.CommandTag{}, errNotBegun
	}
	return tx.conn.Exec(ctx, sql, args...)
}

func (tx *batchTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if !tx.begun {
		return nil, errNotBegun
	}
	return tx.conn.Query(ctx, sql, args...)
}

func (tx *batchTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return tx.conn.QueryRow(ctx, sql, args...)
}

func (tx *batchTx) Conn() *pgx.Conn { return tx.conn }
