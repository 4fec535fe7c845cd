package http

import "net/http"

// What the black-box tests (package http_test, which start the server
// through internal/wardtest) read of the inside.
type (
	SyncStatusJSON    = syncStatusJSON
	DeviceStatusJSON  = deviceStatusJSON
	SecurityEventJSON = securityEventJSON
	BoardJSON         = boardJSON
	BoardStatusJSON   = boardStatusJSON
	BoardQueueJSON    = boardQueueJSON
	AuditEntryJSON    = auditEntryJSON
	AdminUserJSON     = adminUserJSON
	AdminDeviceJSON   = adminDeviceJSON
)

var (
	Upgrader        = &upgrader
	DeviceLabels    = deviceLabels
	NewOpsCollector = newOpsCollector
)

func (s *Server) ConnectedDeviceIDs() []string { return s.connectedDeviceIDs() }
func (s *Server) HTTPServer() *http.Server     { return s.httpSrv }
