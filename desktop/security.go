package desktop

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"time"

	"wardsync/desktop/remote"
	"wardsync/workflow"
)

// Transport security: the engine talks to its server only over TLS (or
// plain http to this computer), trusting the system's authorities, the
// CA file it was given and the one the setup screen stored beside the
// replica, and the pinned key if one is set. See docs/security.md.

// StoredCAFile is where the setup screen keeps the CA a workstation was
// told to trust: beside the replica, so that it survives the USB stick it
// came from.
func StoredCAFile(dbPath string) string { return dbPath + ".ca.pem" }

// StoreCA checks that caFile holds a usable CA certificate and copies it
// beside the replica (0600), where every later start finds it.
func StoreCA(dbPath, caFile string) error {
	if _, err := (remote.Security{CAFile: caFile}).TLSConfig(); err != nil {
		return err
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return err
	}
	tmp := StoredCAFile(dbPath) + ".tmp"
	if err := os.WriteFile(tmp, pem, 0o600); err != nil {
		return fmt.Errorf("desktop: store the CA file: %w", err)
	}
	return os.Rename(tmp, StoredCAFile(dbPath))
}

// transport builds the HTTP client and websocket dialer from Security
// unless the caller gave its own, and refuses a plain-http address to
// another computer given on the command line.
func (c *Config) transport() error {
	if c.ServerURL != "" {
		if err := remote.CheckURL(c.ServerURL); err != nil {
			return err
		}
	}
	if c.Security.CAFile == "" && c.DBPath != "" {
		if _, err := os.Stat(StoredCAFile(c.DBPath)); err == nil {
			c.Security.CAFile = StoredCAFile(c.DBPath)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if c.HTTPClient != nil && c.Remote.Dialer != nil {
		return nil
	}
	client, dialer, err := c.Security.Transport(15 * time.Second)
	if err != nil {
		return err
	}
	if c.HTTPClient == nil {
		c.HTTPClient = client
	}
	if c.Remote.Dialer == nil {
		c.Remote.Dialer = dialer
	}
	return nil
}

// Client is the HTTP client security describes, for calls made before an
// engine exists (the setup's claim).
func Client(security remote.Security) (*http.Client, error) {
	client, _, err := security.Transport(15 * time.Second)
	return client, err
}

// securityFirst returns the online login's transport-security refusal
// rather than offline login's "never logged in online here": the first is
// what the user can act on.
func securityFirst(online, offline error) error {
	if r, ok := workflow.AsRejection(offline); ok && r.Message == MsgNeverOnline && remote.SecurityRefusal(online) {
		if sec, ok := workflow.AsRejection(online); ok {
			return &workflow.Rejection{Code: sec.Code, Message: sec.Message}
		}
	}
	return offline
}

// Security is how the workstation checks its server (remote.Security).
type Security = remote.Security

// CheckServerURL refuses an address that would carry passwords and patient
// data unencrypted to another computer.
func CheckServerURL(serverURL string) error { return remote.CheckURL(serverURL) }

// CheckSecurity reports whether the CA file and pin can be used.
func CheckSecurity(s Security) error {
	_, err := s.TLSConfig()
	return err
}
