package workflow

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The codes a mutator may answer with. UNAUTHENTICATED and UNKNOWN_MUTATION
// cannot occur here (the author is valid and the name known); CLOCK_SKEW
// and PROTOCOL_ERROR are the server's, never a mutator's.
var fuzzCodes = map[Code]bool{
	CodeInvalidTransition: true,
	CodeForbidden:         true,
	CodeValidationFailed:  true,
	CodeNotFound:          true,
	CodeDuplicateID:       true,
}

var decimalText = regexp.MustCompile(`^[0-9]{1,8}\.[0-9]{2}$`)

// fuzzSeeds are, for every act, the arguments it accepts (validation_test's
// accepting cases) and a few spoilt versions that reach the deeper checks.
func fuzzSeeds() [][]byte {
	var out [][]byte
	for _, name := range Names() {
		_, a, _ := accepting(name)
		out = append(out, args(a))
	}
	out = append(out,
		[]byte(``), []byte(`null`), []byte(`[]`), []byte(`{}`), []byte(`"x"`), []byte(`{"id":1}`),
		[]byte(`{"id":"`+apptID+`","id":"`+apptID+`"}`),
		[]byte(`{"id":"`+apptID+`","vitals":{"weight":1e400,"height":-0,"temperature":37.00000000000000001,"bloodPressure":{"systolic":120,"diastolic":80},"heartRate":72}}`),
		[]byte(`{"id":"`+apptID+`","billingAmount":"00000000099999999.990","billingStatus":"PAID"}`),
		[]byte(`{"id":"`+freshID+`","prescriptionId":"`+rxID+`","text":"a\ud800b","data":{"k":"\u0000"}}`),
		[]byte(`{"id":"`+patientID+`","medicalHistory":[[[[[[[[[[]]]]]]]]]],"phone":null}`),
		// Numbers at the edges of what jsonb holds.
		[]byte(`{"id":"`+patientID+`","medicalHistory":{"a":1e131071,"b":1e-16383,"c":0e999999,"d":-0.0}}`),
		[]byte(`{"id":"`+patientID+`","medicalHistory":[1e131072]}`),
		[]byte(`{"id":"`+freshID+`","prescriptionId":"`+rxID+`","text":"x","data":{"a":1e-16384}}`),
		[]byte(`{"id":"`+freshID+`","prescriptionId":"`+rxID+`","text":"x","data":{"a":0e-2147483648}}`),
		[]byte(`{"id":"`+freshID+`","prescriptionId":"`+rxID+`","text":"x","data":{"a":123e131070}}`),
		[]byte(`{"id":"`+freshID+`","firstName":"\xff","lastName":"B","birthDate":"1980-01-01T00:00:00+14:00"}`),
		[]byte(`{"id":"`+freshID+`","patientId":"`+patientID+`","doctorId":"`+nurseID+`","date":"2026-02-30T25:00:00Z","motif":"x"}`),
	)
	return out
}

// FuzzApply: any bytes as the arguments of every act, by every role that
// may perform it, against a store where the act would otherwise apply.
// Apply never panics, never fails with anything but a *Rejection whose code
// is one a mutator documents, and when it accepts, its Effect holds only the
// documented Go types with values PostgreSQL can store, applies cleanly,
// and is what a workstation holding only the role's visible columns would
// compute too. The same input always gives the same answer.
func FuzzApply(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	var fixtures []fuzzFixture
	for _, name := range Names() {
		s, _, _ := accepting(name)
		for _, role := range AllowedRoles(name) {
			fixtures = append(fixtures, fuzzFixture{name: name, role: role, store: s, masked: s.masked(role), snapshot: s.snapshot()})
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for i := range fixtures {
			checkFuzzApply(t, &fixtures[i], raw)
		}
	})
}

// fuzzFixture is one act by one role, on a store where it would apply, and
// on the same store as a workstation serving only that role holds it.
type fuzzFixture struct {
	name          string
	role          Role
	store, masked *memStore
	snapshot      string
}

func checkFuzzApply(t *testing.T, fx *fuzzFixture, raw []byte) {
	t.Helper()
	ctx := context.Background()
	s, name, role := fx.store, fx.name, fx.role
	m := Mutation{ID: "m1", Name: name, Args: append(json.RawMessage(nil), raw...), Actor: actorFor(role), OccurredAt: now, Online: Online(name)}
	eff, err := Apply(ctx, s, m)
	if string(m.Args) != string(raw) {
		t.Fatalf("%s as %s: Apply changed its arguments", name, role)
	}
	again, err2 := Apply(ctx, s, m)
	if describeOutcome(eff, err) != describeOutcome(again, err2) {
		t.Fatalf("%s as %s: two runs differ:\n%s\n%s\nargs %q", name, role, describeOutcome(eff, err), describeOutcome(again, err2), raw)
	}
	mEff, mErr := Apply(ctx, fx.masked, m)
	if describeOutcome(eff, err) != describeOutcome(mEff, mErr) {
		t.Fatalf("%s as %s: the full store and the %s replica disagree:\n%s\n%s\nargs %q", name, role, role,
			describeOutcome(eff, err), describeOutcome(mEff, mErr), raw)
	}
	if err != nil {
		r, ok := AsRejection(err)
		if !ok {
			t.Fatalf("%s as %s: error %T %v is not a *Rejection; args %q", name, role, err, err, raw)
		}
		if !fuzzCodes[r.Code] {
			t.Fatalf("%s as %s: code %q is not one a mutator documents; args %q", name, role, r.Code, raw)
		}
		if r.Message == "" || !utf8.ValidString(r.Message) || strings.ContainsRune(r.Message, 0) {
			t.Fatalf("%s as %s: rejection message %q is empty or not storable text; args %q", name, role, r.Message, raw)
		}
		if !utf8.ValidString(r.Field) {
			t.Fatalf("%s as %s: field %q; args %q", name, role, r.Field, raw)
		}
		if len(eff.Ops) != 0 {
			t.Fatalf("%s as %s: a rejection came with an effect", name, role)
		}
		return
	}
	if len(eff.Ops) == 0 {
		t.Fatalf("%s as %s: accepted with no ops; args %q", name, role, raw)
	}
	for _, op := range eff.Ops {
		if msg := checkOp(op); msg != "" {
			t.Fatalf("%s as %s: bad op on %s: %s; args %q", name, role, op.Table, msg, raw)
		}
		for col, v := range op.Values {
			if msg := storable(v); msg != "" {
				t.Fatalf("%s as %s: %s.%s = %#v: %s; args %q", name, role, op.Table, col, v, msg, raw)
			}
		}
	}
	if s.snapshot() != fx.snapshot {
		t.Fatalf("%s as %s: Apply changed the store it reads", name, role)
	}
	if msg := appliesTo(s, eff); msg != "" {
		t.Fatalf("%s as %s: the effect does not apply: %s; args %q", name, role, msg, raw)
	}
}

// appliesTo says why a database holding s would refuse eff ("" when it
// would not): an insert of a taken id or of a second result for a
// prescription, an update of a missing row. (memStore.apply checks the same
// but stores values through float64, which the fuzzer's numbers overflow.)
func appliesTo(s *memStore, eff Effect) string {
	inserted := map[string]bool{}
	for _, op := range eff.Ops {
		_, exists := s.tables[op.Table][op.ID]
		exists = exists || inserted[op.Table+" "+op.ID]
		switch op.Kind {
		case OpInsert:
			if exists {
				return "insert of existing " + op.Table + " " + op.ID
			}
			if op.Table == TableResults {
				for _, r := range s.tables[TableResults] {
					if r["prescriptionId"] == op.Values["prescriptionId"] {
						return fmt.Sprintf("second result for prescription %v", op.Values["prescriptionId"])
					}
				}
			}
			inserted[op.Table+" "+op.ID] = true
		case OpUpdate, OpDelete:
			if !exists {
				return string(op.Kind) + " of missing " + op.Table + " " + op.ID
			}
		}
	}
	return ""
}

// storable says why PostgreSQL could not hold v as the workflow hands it
// over ("" when it can).
func storable(v any) string {
	switch x := v.(type) {
	case nil, bool:
		return ""
	case string:
		if !utf8.ValidString(x) || strings.ContainsRune(x, 0) {
			return "text PostgreSQL cannot store"
		}
	case Decimal:
		if !decimalText.MatchString(string(x)) {
			return "not a canonical DECIMAL(10,2)"
		}
	case time.Time:
		if y := x.Year(); y < 1 || y > 9999 {
			return "a timestamp outside years 1–9999"
		}
	case json.RawMessage:
		if !json.Valid(x) || !utf8.Valid(x) || strings.Contains(string(x), `\u0000`) {
			return "JSON jsonb refuses"
		}
		if msg := jsonbNumbers(x); msg != "" {
			return msg
		}
	default:
		return fmt.Sprintf("Go type %s is not one Op documents", reflect.TypeOf(v))
	}
	return ""
}

// jsonbNumbers says why jsonb would refuse one of raw's numbers, following
// PostgreSQL's numeric input: the exponent must lie within ±(2³¹−1)/2, the
// display scale (digits written after the point, less the exponent) within
// 16,383, and a nonzero value's weight within 32,767 base-10,000 digits,
// i.e. 131,072 decimal digits before the point. (e2e/soak checks these
// rules against a real PostgreSQL.)
func jsonbNumbers(raw []byte) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return ""
		}
		if err != nil {
			return err.Error()
		}
		n, ok := tok.(json.Number)
		if !ok {
			continue
		}
		s := strings.ToLower(strings.TrimPrefix(string(n), "-"))
		var e int64
		if i := strings.IndexByte(s, 'e'); i >= 0 {
			if e, err = strconv.ParseInt(s[i+1:], 10, 64); err != nil || e >= 1<<30-1 || e <= -(1<<30-1) {
				return "the exponent of " + clip(string(n)) + " is beyond numeric's"
			}
			s = s[:i]
		}
		point, frac := strings.IndexByte(s, '.'), 0
		if point < 0 {
			point = len(s)
		} else {
			frac = len(s) - point - 1
		}
		if scale := int64(frac) - e; scale > 16383 {
			return clip(string(n)) + " has more than 16,383 digits after the point"
		}
		lead := strings.IndexAny(s, "123456789")
		if lead < 0 {
			continue // zero
		}
		place := int64(point - lead) // 1: the leading digit is a unit, 2: tens, ≤ 0: after the point
		if lead > point {
			place++
		}
		if place+e > 131072 {
			return clip(string(n)) + " has more than 131,072 digits before the point"
		}
	}
}
