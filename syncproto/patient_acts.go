package syncproto

import "time"

// PatientActs is the answer of GET /api/v1/patients/{id}/acts, the online
// lookup behind a workstation's timeline (docs/provenance.md): the acts on
// a patient's record, newest first, as far as the session's role may see
// them. Not a websocket frame; it lives here because the server writes it
// and the workstation reads it.
type PatientActs struct {
	PatientID string       `json:"patientId"`
	Acts      []PatientAct `json:"acts"`
	// Truncated: acts older than the Limit newest were left out (they are
	// in the dashboard's audit search).
	Truncated bool `json:"truncated"`
	Limit     int  `json:"limit"`
}

// PatientAct is one act as the server recorded it: who, when (clinical
// and sync time) and where, never what was typed (need to know).
type PatientAct struct {
	Seq         int64     `json:"seq"`
	DeviceID    string    `json:"deviceId"`
	DeviceName  string    `json:"deviceName"`
	Name        string    `json:"name"`
	TargetTable string    `json:"targetTable"`
	TargetID    string    `json:"targetId"`
	AuthorName  string    `json:"authorName"`
	AuthorRole  string    `json:"authorRole"`
	OccurredAt  time.Time `json:"occurredAt"`
	ReceivedAt  time.Time `json:"receivedAt"`
	Outcome     string    `json:"outcome"` // applied, deferred or rejected
}
