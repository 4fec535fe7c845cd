package app

import (
	"encoding/json"
	"testing"

	"wardsync/workflow"
)

func TestWithRowID(t *testing.T) {
	for _, tc := range []struct {
		name, act, args string
		drawn           bool   // a new id was drawn and added
		wantID, want    string // "" for want: args unchanged
	}{
		{name: "a new row gets an id", act: "patient.register", args: `{"firstName":"Ada"}`, drawn: true},
		{name: "an empty id is drawn", act: "appointment.schedule", args: `{"id":""}`, drawn: true},
		{name: "a given id stays", act: "patient.register", args: `{"id":"p-1"}`, wantID: "p-1"},
		{name: "an act on a row keeps its id", act: "appointment.checkIn", args: `{"id":"a-1"}`, wantID: "a-1"},
		{name: "an act on a row gets no id made up", act: "appointment.checkIn", args: `{}`},
		{name: "an act without an id field gets none", act: "patient.merge", args: `{"survivorId":"p-1","loserId":"p-2"}`},
		{name: "not an object goes as it is", act: "patient.register", args: `[1]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, id, err := withRowID(json.RawMessage(tc.args), workflow.Creates(tc.act))
			if err != nil {
				t.Fatal(err)
			}
			if !tc.drawn {
				if string(out) != tc.args || id != tc.wantID {
					t.Fatalf("withRowID(%s) = %s, %q; want the args unchanged and id %q", tc.args, out, id, tc.wantID)
				}
				return
			}
			var obj map[string]any
			if err := json.Unmarshal(out, &obj); err != nil {
				t.Fatal(err)
			}
			if id == "" || obj["id"] != id {
				t.Fatalf("withRowID(%s) = %s, %q; want a new id in the args", tc.args, out, id)
			}
		})
	}
}
