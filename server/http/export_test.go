package http

import (
	"context"
	"net/http"
	"time"
)

// What the black-box tests (package http_test, which start the server
// through internal/wardtest) read of the inside.
type (
	SyncStatusJSON   = syncStatusJSON
	DeviceStatusJSON = deviceStatusJSON
	BoardJSON        = boardJSON
	BoardStatusJSON  = boardStatusJSON
	BoardQueueJSON   = boardQueueJSON
	AuditEntryJSON   = auditEntryJSON
	AdminUserJSON    = adminUserJSON
	AdminDeviceJSON  = adminDeviceJSON
)

var (
	Upgrader        = &upgrader
	DeviceLabels    = deviceLabels
	NewOpsCollector = newOpsCollector
)

func (s *Server) ConnectedDeviceIDs() []string { return s.connectedDeviceIDs() }
func (s *Server) HTTPServer() *http.Server     { return s.httpSrv }

// SetLoginHold replaces how a held login waits its turn (nil: a timer), so
// that a test moves its clock by the wait instead of sleeping through it.
func (s *Server) SetLoginHold(hold func(ctx context.Context, d time.Duration) error) {
	a := s.access()
	a.mu.Lock()
	a.hold = hold
	a.mu.Unlock()
}
