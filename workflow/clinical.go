package workflow

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// The clinical JSON columns (patients.medicalHistory, results.data) are
// free-form in the seed. The forms write one documented shape
// (docs/clinical-data.md) so that screens can show tables instead of JSON:
//
//	medicalHistory: {"allergies": [...], "conditions": [...], "medications": [...]}
//	results.data:   {"rows": [{"test", "value", "unit", "range", "abnormal"}]}
//
// Only the documented keys are checked: rows written before the shape
// existed (or by another program) keep their other keys, and the screens
// show those as plain name/value rows.

// MedicalHistory is the documented shape of patients.medicalHistory.
type MedicalHistory struct {
	Allergies   []string `json:"allergies,omitempty"`
	Conditions  []string `json:"conditions,omitempty"`
	Medications []string `json:"medications,omitempty"`
}

// LabRow is one measured value of a result (results.data.rows).
type LabRow struct {
	Test     string `json:"test"`
	Value    string `json:"value"`
	Unit     string `json:"unit,omitempty"`
	Range    string `json:"range,omitempty"`
	Abnormal bool   `json:"abnormal,omitempty"`
}

// LabValues is the documented shape of results.data.
type LabValues struct {
	Rows []LabRow `json:"rows"`
}

// Limits of the documented shapes: a ward's lists, not documents.
const (
	MaxHistoryItems      = 100
	MaxHistoryItemLength = 200
	MaxLabRows           = 200
	MaxLabTestLength     = 200
	MaxLabValueLength    = 200
	MaxLabUnitLength     = 50
	MaxLabRangeLength    = 100
)

// historyLists are medicalHistory's documented keys, with the words for
// the list and for one of its entries.
var historyLists = []struct{ key, list, item string }{
	{"allergies", "Allergies", "Allergy"},
	{"conditions", "Conditions", "Condition"},
	{"medications", "Current medications", "Medication"},
}

// CheckMedicalHistory checks the documented keys of a medical history
// (field is its JSON path, "medicalHistory"): each a list of 1–200
// character texts, at most 100 of them. A list (the seed allows one) or
// other keys are left as they are.
func CheckMedicalHistory(field string, raw json.RawMessage) *Rejection {
	o, r := documented(field, "The medical history", raw)
	if o == nil || r != nil {
		return r
	}
	for _, l := range historyLists {
		v, p := o.raw(l.key)
		if p == absent {
			continue
		}
		path := joinPath(field, l.key)
		items, r := list(path, l.list, v, MaxHistoryItems)
		if r != nil {
			return r
		}
		for i, it := range items {
			label := l.item + " " + strconv.Itoa(i+1)
			s, r := textItem(joinPath(path, strconv.Itoa(i)), label, it)
			if r != nil {
				return r
			}
			if r := checkLength(joinPath(path, strconv.Itoa(i)), label, s, 1, MaxHistoryItemLength); r != nil {
				return r
			}
		}
	}
	return nil
}

// documented decodes raw as an object of the documented shape (what names
// it in a refusal), or returns nil when it is no object: a value of another
// shape is left as it is.
func documented(field, what string, raw json.RawMessage) (*obj, *Rejection) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, nil
	}
	return decodeObject(raw, field, what, nil)
}

var labRowKeys = []string{"test", "value", "unit", "range", "abnormal"}

// CheckLabValues checks a result's measured values when they carry the
// documented "rows" key (field is their JSON path, "data"): each row an
// object with a test name and a value (texts, so "< 0.1" and "positive"
// are values too), an optional unit and reference range, and an optional
// abnormal flag.
func CheckLabValues(field string, raw json.RawMessage) *Rejection {
	o, r := documented(field, "The measured values", raw)
	if o == nil || r != nil {
		return r
	}
	v, p := o.raw("rows")
	if p == absent {
		return nil
	}
	path := joinPath(field, "rows")
	rows, r := list(path, "The rows of measured values", v, MaxLabRows)
	if r != nil {
		return r
	}
	for i, raw := range rows {
		n := strconv.Itoa(i + 1)
		row, r := decodeObject(raw, joinPath(path, strconv.Itoa(i)), "Row "+n+" of the measured values", labRowKeys)
		if r != nil {
			if len(bytes.TrimSpace(raw)) > 0 && bytes.TrimSpace(raw)[0] != '{' {
				return invalid(joinPath(path, strconv.Itoa(i)), "Row %s of the measured values must be an object, not %s.", n, kindOf(raw))
			}
			return r
		}
		row.text("test", "The test name of row "+n, 1, MaxLabTestLength, true)
		row.text("value", "The value of row "+n, 1, MaxLabValueLength, true)
		row.text("unit", "The unit of row "+n, 0, MaxLabUnitLength, false)
		row.text("range", "The reference range of row "+n, 0, MaxLabRangeLength, false)
		row.boolean("abnormal", "The abnormal flag of row "+n)
		if row.err != nil {
			return row.err
		}
	}
	return nil
}

// LabAbnormal reports whether measured values in the documented shape
// hold a row flagged abnormal (the doctor's queue marks such a result).
// Values in another shape, or unreadable, flag nothing.
func LabAbnormal(raw json.RawMessage) bool {
	var v LabValues
	if json.Unmarshal(raw, &v) != nil {
		return false
	}
	for _, r := range v.Rows {
		if r.Abnormal {
			return true
		}
	}
	return false
}

// list reads a JSON list of at most max entries.
func list(path, label string, raw json.RawMessage, max int) ([]json.RawMessage, *Rejection) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '[' {
		return nil, invalid(path, "%s must be a list, not %s.", label, kindOf(raw))
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, invalid(path, "%s are not valid JSON (%s).", label, jsonErr(err))
	}
	if len(items) > max {
		return nil, invalid(path, "%s hold at most %s entries (got %s).", label, thousands(int64(max)), thousands(int64(len(items))))
	}
	return items, nil
}

func textItem(path, label string, raw json.RawMessage) (string, *Rejection) {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", invalid(path, "%s must be text, not %s.", label, kindOf(raw))
	}
	return s, nil
}
