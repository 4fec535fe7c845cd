// Command genrules writes the frontend's copy of the workflow's rules:
// the vital ranges, the text limits and the sentences that refuse them,
// the acts (who may do each, on which table), the transition table the
// buttons are drawn from, the queues and the error codes. The UI checks a form as it
// is typed and offers only the acts a row's status allows; with this file
// it does so by the very table the mutators apply.
//
// It is run by `go generate ./workflow`; the output is committed, and
// TestGeneratedRulesAreCurrent fails when it is stale.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"wardsync/workflow"
)

func main() {
	out := flag.String("out", "", "the rules file to write (frontend/src/desktop/rules.json)")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "genrules: -out is required")
		os.Exit(2)
	}
	if err := generate(*out); err != nil {
		fmt.Fprintln(os.Stderr, "genrules:", err)
		os.Exit(1)
	}
}

// generate writes the rules file to path.
func generate(path string) error {
	b, err := render()
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

type vital struct {
	Field        string  `json:"field"`
	Label        string  `json:"label"`
	Unit         string  `json:"unit"`
	Min          float64 `json:"min"`
	Max          float64 `json:"max"`
	MinExclusive bool    `json:"minExclusive"`
	Required     bool    `json:"required"`
}

type normal struct {
	Field   string  `json:"field"`
	Unit    string  `json:"unit"`
	Low     float64 `json:"low"`
	High    float64 `json:"high"`
	HasLow  bool    `json:"hasLow"`
	HasHigh bool    `json:"hasHigh"`
}

// rules is the file's shape; frontend/src/desktop/rules.ts types it.
type rules struct {
	Comment          string                       `json:"comment"`
	Vitals           []vital                      `json:"vitals"`
	Normals          []normal                     `json:"normals"`
	Texts            map[string]workflow.TextRule `json:"texts"`
	Sentences        map[string]string            `json:"sentences"`
	OldestBirthYears int                          `json:"oldestBirthYears"`
	ScheduleYears    int                          `json:"scheduleYears"`
	MaxBillingAmount string                       `json:"maxBillingAmount"`
	Acts             []workflow.ActInfo           `json:"acts"`
	Transitions      []workflow.Transition        `json:"transitions"`
	Queues           []workflow.Queue             `json:"queues"`
	Codes            []workflow.Code              `json:"codes"`
}

// render returns the rules file's bytes; equal rules give equal bytes.
func render() ([]byte, error) {
	r := rules{
		Comment: "Generated from package workflow by `go generate ./workflow` (internal/genrules); do not edit. " +
			"TestGeneratedRulesAreCurrent fails when this file is stale.",
		Texts:            workflow.TextRules(),
		Sentences:        workflow.Sentences(),
		OldestBirthYears: workflow.OldestBirthYears,
		ScheduleYears:    workflow.ScheduleYears,
		MaxBillingAmount: workflow.MaxBillingAmount(),
		Acts:             workflow.Acts(),
		Transitions:      workflow.Transitions(),
		Queues:           workflow.Queues(),
		Codes:            workflow.Codes,
	}
	for _, v := range workflow.VitalRanges {
		r.Vitals = append(r.Vitals, vital{v.Field, v.Label, v.Unit, v.Min, v.Max, v.MinExclusive, v.Required})
	}
	for _, n := range workflow.VitalNormals {
		r.Normals = append(r.Normals, normal{n.Field, n.Unit, n.Low, n.High, n.HasLow, n.HasHigh})
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
