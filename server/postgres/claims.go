package postgres

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"wardsync/syncproto"
)

// claimPatientKeys claims, in one sorted statement, the duplicate-detection
// keys of every patient the push's new acts register or rename
// (00018_duplicate_key_claims.sql), before the first act is applied. Each
// act's trigger would otherwise claim its own keys one act after the other,
// and two pushes holding each other's next key would deadlock. With the
// whole push claimed first, all writers take keys in one global order; the
// triggers then find their claims already held.
//
// The keys are predicted from the acts' arguments (and the current row, for
// an edit). A wrong prediction costs nothing but the order: the trigger
// claims what it actually writes, always.
func claimPatientKeys(ctx context.Context, tx pgx.Tx, muts []syncproto.Mutation, last int64) error {
	var ids, first, lastName, birth, idNumber []*string
	for _, m := range muts {
		if m.Seq <= last || (m.Name != "patient.register" && m.Name != "patient.update") {
			continue
		}
		var a struct {
			ID        string  `json:"id"`
			FirstName *string `json:"firstName"`
			LastName  *string `json:"lastName"`
			BirthDate *string `json:"birthDate"`
			IDNumber  *string `json:"idNumber"`
		}
		if json.Unmarshal(m.Args, &a) != nil || a.ID == "" {
			continue // the mutator refuses it; it writes nothing
		}
		if hasNUL(a.ID, a.FirstName, a.LastName, a.IDNumber) {
			continue // PostgreSQL's text cannot hold it; the mutator refuses it
		}
		if m.Name == "patient.update" && a.FirstName == nil && a.LastName == nil && a.BirthDate == nil && a.IDNumber == nil {
			continue // no key changes: nothing to claim
		}
		var day *string
		if a.BirthDate != nil {
			if t, err := time.Parse(time.RFC3339Nano, *a.BirthDate); err == nil {
				d := t.UTC().Format(time.DateOnly) // TIMESTAMP(3) holds UTC wall time
				day = &d
			}
		}
		id := a.ID
		ids, first, lastName, birth, idNumber = append(ids, &id), append(first, a.FirstName), append(lastName, a.LastName), append(birth, day), append(idNumber, a.IDNumber)
	}
	if len(ids) == 0 {
		return nil
	}
	// A field the act does not set keeps the current row's value; an
	// idNumber set to "" clears it (no key).
	_, err := tx.Exec(ctx, `
		SELECT sync.claim_patient_keys(ARRAY(
		  SELECT k FROM unnest($1::text[], $2::text[], $3::text[], $4::date[], $5::text[]) a(id, first, last, birth, idn)
		  LEFT JOIN patients p ON p.id = a.id,
		       unnest(sync.patient_claim_keys(coalesce(a.first, p."firstName"), coalesce(a.last, p."lastName"),
		                                      coalesce(a.birth, p."birthDate"::date), coalesce(a.idn, p."idNumber"))) k))`,
		ids, first, lastName, birth, idNumber)
	return err
}

func hasNUL(id string, fields ...*string) bool {
	if strings.ContainsRune(id, 0) {
		return true
	}
	for _, f := range fields {
		if f != nil && strings.ContainsRune(*f, 0) {
			return true
		}
	}
	return false
}
