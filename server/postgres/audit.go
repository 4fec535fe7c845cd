package postgres

// The audit log search: recorded mutations, newest first, a page at a time.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"wardsync/workflow"
)

// AuditFilter selects audit log entries; empty fields do not filter.
type AuditFilter struct {
	DeviceID  string
	UserID    string
	PatientID string // acts on the patient or on their appointments, prescriptions, results, documents
	Code      string
	Outcome   string // "applied", "rejected" or "deferred" (on hold, docs/deferred.md)
	Name      string // mutation name
	// Unresolved keeps only rejected acts no administrator has resolved.
	Unresolved bool
	// ChainBroken keeps only acts whose chain link broke at push.
	ChainBroken  bool
	Since, Until *time.Time // received between
	Limit        int
	// After continues a listing from the Next key of a previous page.
	After string
}

// AuditEntry is one recorded mutation.
type AuditEntry struct {
	DeviceID    string
	DeviceName  string
	Seq         int64
	MutationID  string
	Name        string
	Args        json.RawMessage
	AuthorID    string
	AuthorName  string
	AuthorRole  string
	OccurredAt  time.Time
	ReceivedAt  time.Time
	Outcome     string
	Code        string
	Message     string
	Field       string
	TargetTable string
	TargetID    string
	ResolvedAt  *time.Time
	ResolvedBy  string
	Note        string
	// ResolutionKind is "closed" or "reissued"; ResolvedBySeq the device's
	// own act that resolved it (its close, or its re-issue), nil when an
	// administrator closed it from the dashboard.
	ResolutionKind string
	ResolvedBySeq  *int64
	// ReissueOf is the mutation id of the rejected act this act re-issues
	// (same device), ReissueOfSeq that act's seq when the server has it.
	ReissueOf    string
	ReissueOfSeq *int64
	// PrevHash and Hash are the act's chain link (hex; empty for acts
	// recorded before the chain existed); ChainBreak is "content" or
	// "link" when the link broke at push.
	PrevHash, Hash, ChainBreak string
	// ClaimedAuthorID is the author the workstation hashed, kept even when
	// the act was refused before its author was authenticated.
	ClaimedAuthorID string
	// Subject names the patient and visit the act concerns (nil when it
	// names none).
	Subject *workflow.ActSubject
}

// MaxAuditPage bounds one page of audit entries.
const MaxAuditPage = 500

// auditKey is where a page of the audit log ends: the order's columns of
// its last entry. It travels as opaque base64 of its JSON.
type auditKey struct {
	At     time.Time `json:"t"`
	Seq    int64     `json:"s"`
	Device string    `json:"d"`
}

func encodeAuditKey(e AuditEntry) string {
	b, _ := json.Marshal(auditKey{At: e.ReceivedAt.UTC(), Seq: e.Seq, Device: e.DeviceID})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeAuditKey(k string) (time.Time, int64, string, error) {
	var key auditKey
	b, err := base64.RawURLEncoding.DecodeString(k)
	if err != nil || json.Unmarshal(b, &key) != nil || key.At.IsZero() {
		return time.Time{}, 0, "", &workflow.Rejection{Code: workflow.CodeValidationFailed, Field: "after",
			Message: "The page key is not one this server issued; start the search again."}
	}
	return key.At, key.Seq, key.Device, nil
}

// Audit lists audit log entries, newest received first, one page at a time;
// next is the key of the following page, empty on the last.
func (db *DB) Audit(ctx context.Context, f AuditFilter) (entries []AuditEntry, next string, err error) {
	if f.Limit <= 0 || f.Limit > MaxAuditPage {
		f.Limit = 100
	}
	var w filter
	w.equal("m.device_id", f.DeviceID)
	w.equal("m.author_id", f.UserID)
	w.equal("m.code", f.Code)
	w.equal("m.name", f.Name)
	switch f.Outcome {
	case "", "applied", "rejected", "deferred":
		w.equal("m.outcome", f.Outcome)
	default:
		return nil, "", &workflow.Rejection{Code: workflow.CodeValidationFailed, Field: "outcome", Message: fmt.Sprintf("Outcome %q is not applied, rejected or deferred.", f.Outcome)}
	}
	if f.Unresolved {
		w.where("m.outcome = 'rejected' AND r.seq IS NULL")
	}
	if f.ChainBroken {
		w.where("m.chain_break IS NOT NULL")
	}
	if f.Since != nil {
		w.where("m.received_at >= " + w.arg(*f.Since))
	}
	if f.Until != nil {
		w.where("m.received_at < " + w.arg(*f.Until))
	}
	if f.PatientID != "" {
		p := w.arg(f.PatientID)
		w.where(`(m.target_id IN (
			SELECT ` + p + `::text
			UNION ALL SELECT id FROM appointments WHERE "patientId" = ` + p + `
			UNION ALL SELECT id FROM prescriptions WHERE "patientId" = ` + p + `
			UNION ALL SELECT r.id FROM results r JOIN prescriptions pr ON pr.id = r."prescriptionId" WHERE pr."patientId" = ` + p + `
			UNION ALL SELECT id FROM documents WHERE "patientId" = ` + p + `)
			OR (m.outcome = 'rejected' AND jsonb_typeof(m.args) = 'object' AND m.args->>'patientId' = ` + p + `))`)
	}
	if f.After != "" {
		at, seq, dev, err := decodeAuditKey(f.After)
		if err != nil {
			return nil, "", err
		}
		w.where("(m.received_at, m.seq, m.device_id) < (" + w.arg(at) + ", " + w.arg(seq) + ", " + w.arg(dev) + ")")
	}
	q := `
		SELECT m.device_id, COALESCE(d.name, ''), m.seq, m.mutation_id, m.name, m.args, COALESCE(m.author_id, ''),
		       COALESCE(u.name, ''), COALESCE(u.role::text, ''), m.occurred_at, m.received_at, m.outcome,
		       COALESCE(m.code, ''), COALESCE(m.message, ''), COALESCE(m.field, ''),
		       COALESCE(m.target_table, ''), COALESCE(m.target_id, ''),
		       r.resolved_at, COALESCE(ru.name, ''), COALESCE(r.note, ''),
		       COALESCE(r.kind, ''), r.by_seq, COALESCE(m.reissue_of, ''),
		       (SELECT min(o.seq) FROM sync.mutations o WHERE o.device_id = m.device_id AND o.mutation_id = m.reissue_of),
		       COALESCE(encode(m.prev_hash, 'hex'), ''), COALESCE(encode(m.hash, 'hex'), ''), COALESCE(m.chain_break, ''),
		       COALESCE(m.chain_author, '')
		  FROM sync.mutations m
		  LEFT JOIN sync.devices d ON d.id = m.device_id
		  LEFT JOIN users u ON u.id = m.author_id
		  LEFT JOIN sync.rejection_resolutions r ON r.device_id = m.device_id AND r.seq = m.seq
		  LEFT JOIN users ru ON ru.id = r.resolved_by` + w.clause()
	q += " ORDER BY m.received_at DESC, m.seq DESC, m.device_id DESC LIMIT " + w.arg(f.Limit+1)
	rows, err := db.Pool.Query(ctx, q, w.args...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	for rows.Next() {
		var e AuditEntry
		var argsText []byte
		if err := rows.Scan(&e.DeviceID, &e.DeviceName, &e.Seq, &e.MutationID, &e.Name, &argsText, &e.AuthorID,
			&e.AuthorName, &e.AuthorRole, &e.OccurredAt, &e.ReceivedAt, &e.Outcome, &e.Code, &e.Message, &e.Field,
			&e.TargetTable, &e.TargetID, &e.ResolvedAt, &e.ResolvedBy, &e.Note,
			&e.ResolutionKind, &e.ResolvedBySeq, &e.ReissueOf, &e.ReissueOfSeq,
			&e.PrevHash, &e.Hash, &e.ChainBreak, &e.ClaimedAuthorID); err != nil {
			return nil, "", err
		}
		e.Args = json.RawMessage(argsText)
		entries = append(entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	if len(entries) > f.Limit {
		entries = entries[:f.Limit]
		next = encodeAuditKey(entries[len(entries)-1])
	}
	refs := make([]workflow.ActRefs, len(entries))
	for i, e := range entries {
		refs[i] = workflow.RefsOf(e.Name, e.Args)
	}
	subjects, err := db.Subjects(ctx, refs)
	if err != nil {
		return nil, "", err
	}
	for i := range entries {
		if subjects[i].Known() {
			entries[i].Subject = &subjects[i]
		}
	}
	return entries, next, nil
}
