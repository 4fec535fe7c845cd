package remote

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"time"
)

// Probe tells cheaply whether the server's port answers: one TCP connect,
// closed at once, no TLS, no token, no request. An offline workstation
// probes often (every couple of seconds while it holds queued acts) and
// opens the full websocket only once a probe gets through, so that work
// flows within seconds of the link returning without loading a server
// that is still down.
func Probe(ctx context.Context, serverURL string, timeout time.Duration) error {
	u, err := url.Parse(serverURL)
	if err != nil || u.Host == "" {
		return fmt.Errorf("remote: server URL %q must be http(s)://host[:port]", serverURL)
	}
	host := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" || u.Scheme == "wss" {
			port = "443"
		}
		host = net.JoinHostPort(u.Hostname(), port)
	}
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return err
	}
	return c.Close()
}
