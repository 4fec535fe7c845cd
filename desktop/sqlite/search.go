package sqlite

// Patient search and the likely-duplicates warning of registration.

import (
	"context"
	"strings"
	"time"

	"wardsync/workflow"
)

// must be the birth date. Either may be empty.
type PatientQuery struct {
	Name      string `json:"name"`
	BirthDate string `json:"birthDate"`
	Limit     int    `json:"limit"`
}

// SearchPatients finds patients, ordered by last name, first name.
func (db *DB) SearchPatients(ctx context.Context, q PatientQuery) ([]workflow.Patient, error) {
	if q.Limit <= 0 {
		q.Limit = DefaultLimit
	}
	var conds []string
	var args []any
	for _, w := range strings.Fields(q.Name) {
		conds = append(conds, `("lastName" LIKE ? ESCAPE '\' OR "firstName" LIKE ? ESCAPE '\')`)
		p := likeEscape(w) + "%"
		args = append(args, p, p)
	}
	if q.BirthDate != "" {
		day, err := time.Parse(time.DateOnly, q.BirthDate)
		if err != nil {
			r := workflow.Reject(workflow.CodeValidationFailed, "Birth date %q is not a date such as 1980-05-12.", q.BirthDate)
			r.Field = "birthDate"
			return nil, r
		}
		conds = append(conds, `"birthDate" >= ? AND "birthDate" < ?`)
		args = append(args, FormatTime(day), FormatTime(day.AddDate(0, 0, 1)))
	}
	where := ""
	if len(conds) > 0 {
		where = "WHERE " + strings.Join(conds, " AND ")
	}
	return readValue(ctx, db, func(t *Tx) ([]workflow.Patient, error) {
		return t.patients("search patients", ` FROM "patients" `+where+` ORDER BY "lastName", "firstName", "id" LIMIT ?`, append(args, q.Limit), nil)
	})
}

// patients reads the patients a query selects (rest: what follows the
// column list), keeping those keep accepts (nil: all). what names them in
// errors. No patient is an empty list, not nil (JSON []).
func (t *Tx) patients(what, rest string, args []any, keep func(*workflow.Patient) bool) ([]workflow.Patient, error) {
	tbl := tables[workflow.TablePatients]
	rows, err := t.query(`SELECT `+tbl.colList+rest, args...)
	ps, err := wireRows[workflow.Patient](tbl, rows, err, what)
	if err != nil {
		return nil, err
	}
	out := []workflow.Patient{}
	for _, p := range ps {
		if keep == nil || keep(&p) {
			out = append(out, p)
		}
	}
	return out, nil
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// LikelyDuplicates lists the replica's patients born on birthDate
// ("2006-01-02") whose first and last names fold (workflow.NormalizeName)
// to those given: reception's warning that the person may already be
// registered. The birth date index narrows the scan; the folding is done
// here because SQLite's NOCASE knows only ASCII.
func (db *DB) LikelyDuplicates(ctx context.Context, firstName, lastName, birthDate string) ([]workflow.Patient, error) {
	first, last := workflow.NormalizeName(firstName), workflow.NormalizeName(lastName)
	out := []workflow.Patient{}
	day, err := time.Parse(time.DateOnly, strings.TrimSpace(birthDate))
	if err != nil || first == "" || last == "" {
		return out, nil // nothing to compare yet: the form is still being typed
	}
	return readValue(ctx, db, func(t *Tx) ([]workflow.Patient, error) {
		return t.patients("likely duplicates", ` FROM "patients" WHERE "birthDate" >= ? AND "birthDate" < ? ORDER BY "lastName", "firstName", "id"`,
			[]any{FormatTime(day), FormatTime(day.AddDate(0, 0, 1))},
			func(p *workflow.Patient) bool {
				return workflow.NormalizeName(p.FirstName) == first && workflow.NormalizeName(p.LastName) == last
			})
	})
}
