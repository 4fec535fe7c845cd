package remote

import (
	"context"
	"net/http"
	"net/url"
)

// ReportWiped tells the server that this revoked device destroyed its data
// key and key slots, for the dashboard's key state. The server records it
// as the workstation's own report: it cannot see the disk.
func ReportWiped(ctx context.Context, client *http.Client, serverURL, deviceID string) error {
	return do(ctx, client, http.MethodPost, serverURL, "/api/v1/devices/"+url.PathEscape(deviceID)+"/wiped", "", []byte("{}"), nil)
}
