package remote

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// PatientAct is one act on a patient's record as the server recorded it:
// who, when (clinical and sync time) and where, never what was typed.
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

// PatientActs is the server's answer: the newest acts first; Truncated
// when older ones were left out (past Limit).
type PatientActs struct {
	PatientID string       `json:"patientId"`
	Acts      []PatientAct `json:"acts"`
	Truncated bool         `json:"truncated"`
	Limit     int          `json:"limit"`
}

// FetchPatientActs asks the server who did what on a patient's record
// (GET /api/v1/patients/{id}/acts) with a user's session token.
func FetchPatientActs(ctx context.Context, client *http.Client, serverURL, token, patientID string) (*PatientActs, error) {
	var out PatientActs
	if err := do(ctx, client, http.MethodGet, serverURL, "/api/v1/patients/"+url.PathEscape(patientID)+"/acts", token, nil, &out); err != nil {
		return nil, err
	}
	if out.PatientID != patientID {
		return nil, fmt.Errorf("remote: acts answer is about patient %q, not %q", out.PatientID, patientID)
	}
	return &out, nil
}
