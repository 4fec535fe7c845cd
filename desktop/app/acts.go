package app

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"wardsync/workflow"
)

// One binding for every act of the workflow's table: the UI names the act
// and gives its arguments with the seed's field names, and the engine
// queues it through the same mutator the server will run. A new act of
// package workflow is reachable from the UI without a method here. A
// refusal comes back as a Problem.

// Acted is a queued act. RowID is the new row's id for acts that insert
// one (patient, appointment, prescription, result, document), else the id
// of the row acted on.
type Acted struct {
	MutationID string    `json:"mutationId"`
	Seq        int64     `json:"seq"`
	OccurredAt time.Time `json:"occurredAt"`
	RowID      string    `json:"rowId"`
	// WaitingFor is set when the act came before its predecessor on
	// another workstation: "waiting for check-in at reception".
	WaitingFor string `json:"waitingFor,omitempty"`
}

// Act queues the workflow act name as userID (the UI's logged-in user)
// with args, a JSON object of the act's arguments. An act that inserts a
// row leaves "id" out: the row's new id is drawn here, so that a form
// sent twice by a double click still makes two distinct mutations the
// user sees, each with its row. Arguments that are not an object go to
// the mutator as they are, which refuses them in its own words.
func (a *App) Act(userID, name string, args json.RawMessage) (*Acted, error) {
	e, err := a.eng()
	if err != nil {
		return nil, err
	}
	raw, rowID, err := withRowID(args, workflow.Creates(name))
	if err != nil {
		return nil, fmt.Errorf("encode the arguments of %s: %w", name, err)
	}
	reissueOf := a.reissueFor(name)
	res, err := e.Reissue(a.base, userID, name, raw, reissueOf)
	if err != nil {
		return nil, err
	}
	if reissueOf != "" {
		a.reissued(reissueOf)
	}
	return &Acted{MutationID: res.ID, Seq: res.Seq, OccurredAt: res.OccurredAt, RowID: rowID, WaitingFor: res.WaitingFor}, nil
}

// withRowID returns args and the id they name. For an act that creates its
// row (create), a missing or empty id is drawn and added; any other act's
// arguments go as they are, so that one without an "id" (patient.merge)
// is not refused for a field it does not know.
func withRowID(args json.RawMessage, create bool) (json.RawMessage, string, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(args, &obj); err != nil || obj == nil {
		return args, "", nil
	}
	var id string
	if raw, ok := obj["id"]; ok {
		if err := json.Unmarshal(raw, &id); err != nil {
			return args, "", nil // not a string: the mutator names it
		}
	}
	if id != "" || !create {
		return args, id, nil
	}
	id = uuid.NewString()
	b, err := json.Marshal(id)
	if err != nil {
		return nil, "", err
	}
	obj["id"] = b
	out, err := json.Marshal(obj)
	return out, id, err
}

// Roles lists the roles in the seed's order (for the UI's labels).
func (a *App) Roles() []workflow.Role { return append([]workflow.Role(nil), workflow.Roles...) }

// rawJSON keeps stored JSON as it is when it travels to the UI.
func rawJSON(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return json.RawMessage(b)
}
