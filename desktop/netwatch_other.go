//go:build !linux

package desktop

import (
	"context"
	"log/slog"
)

// watchNetwork does nothing outside Linux: Windows reports network changes
// through NotifyIpInterfaceChange (iphlpapi), which needs cgo or a
// syscall binding this package does not carry yet. There the capped,
// jittered back-off (at most MaxQueuedBackoff while acts wait) alone
// brings the link back.
func watchNetwork(ctx context.Context, log *slog.Logger, _ func()) {
	log.Debug("network changes not watched on this system")
	<-ctx.Done()
}
