package remote

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"wardsync/syncproto"
)

// FetchPatientActs asks the server who did what on a patient's record
// (GET /api/v1/patients/{id}/acts) with a user's session token.
func FetchPatientActs(ctx context.Context, client *http.Client, serverURL, token, patientID string) (*syncproto.PatientActs, error) {
	var out syncproto.PatientActs
	if err := do(ctx, client, http.MethodGet, serverURL, "/api/v1/patients/"+url.PathEscape(patientID)+"/acts", token, nil, &out); err != nil {
		return nil, err
	}
	if out.PatientID != patientID {
		return nil, fmt.Errorf("remote: acts answer is about patient %q, not %q", out.PatientID, patientID)
	}
	return &out, nil
}
