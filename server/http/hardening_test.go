package http_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	httpserver "wardsync/server/http"

	"wardsync/server/certs"
	"wardsync/workflow"
)

// Without the metrics token /metrics names no workstation (no id, name or
// roles) but keeps the aggregate series; a wrong token is refused with a
// sentence; the right one shows the per-workstation series.
func TestMetricsTokenHidesWorkstations(t *testing.T) {
	e := startDashboard(t)
	sec := e.roleToken(workflow.RoleSecretary)
	e.Connect(e.t, sec, e.device)

	anon := e.scrapeWith("")
	for name, fam := range anon {
		for _, m := range fam.Metric {
			for _, l := range m.Label {
				if httpserver.DeviceLabels[l.GetName()] || strings.Contains(l.GetValue(), e.device) || l.GetValue() == "Every role" {
					t.Errorf("%s names a workstation without the token: %s=%q", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
	for _, agg := range []string{"wardsync_devices", "wardsync_devices_by_health", "wardsync_connected_devices", "wardsync_db_up"} {
		if _, ok := anon[agg]; !ok {
			t.Errorf("aggregate %s missing without the token", agg)
		}
	}

	st, body := e.do("GET", "/metrics", "not-the-token", nil)
	if st != http.StatusUnauthorized || body["code"] != "UNAUTHENTICATED" ||
		body["message"] != "The metrics token is wrong; scrape without one for the aggregate figures, or with the server's -metrics-token for per-workstation ones." {
		t.Fatalf("wrong metrics token: %d %v", st, body)
	}

	if v, ok := admValue(e.scrape(), "wardsync_device_info", map[string]string{"device": e.device, "name": "Every role"}); !ok || v != 1 {
		t.Fatalf("with the token, wardsync_device_info = %v (%v)", v, ok)
	}
}

// One JSON value per body: anything after it is refused with a sentence,
// whichever endpoint decodes it (they share decodeJSON), and nothing is
// done. Trailing white space is fine.
func TestTrailingJSONRefused(t *testing.T) {
	e := startDashboard(t)
	for _, tc := range []struct{ path, token, body string }{
		{"/api/v1/auth/login", "", `{"email":"admin@hospital.com","password":"admin123"}{"email":"x"}`},
		{"/api/v1/auth/login", "", `{"email":"admin@hospital.com","password":"admin123"} garbage`},
		{"/api/v1/admin/users", e.admin, `{"name":"Trailing","email":"trailing@hospital.com","password":"secret12","role":"NURSE"}]`},
	} {
		st, raw := e.raw("POST", tc.path, tc.token, json.RawMessage(tc.body))
		var rej workflow.Rejection
		_ = json.Unmarshal(raw, &rej)
		if st != http.StatusBadRequest || rej.Code != workflow.CodeValidationFailed || rej.Message != httpserver.MsgTrailingJSON {
			t.Errorf("%s %q: %d %s", tc.path, tc.body, st, raw)
		}
	}
	var n int
	if err := e.DB.Pool.QueryRow(t.Context(), `SELECT count(*) FROM users WHERE email = 'trailing@hospital.com'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("the user of a refused body was created (%d, %v)", n, err)
	}
	if st, raw := e.raw("POST", "/api/v1/auth/login", "", json.RawMessage("{\"email\":\"admin@hospital.com\",\"password\":\"admin123\"}\n\t ")); st != 200 {
		t.Errorf("trailing white space refused: %d %s", st, raw)
	}
}

// The server's own limits: headers that never finish are cut off, an
// oversized header gets 431, and the server's timeouts are set.
func TestSlowAndOversizedHeaders(t *testing.T) {
	e := startDashboard(t)
	if e.HTTP.HTTPServer().ReadHeaderTimeout != httpserver.ReadHeaderTimeout || e.HTTP.HTTPServer().IdleTimeout != httpserver.IdleTimeout || httpserver.Upgrader.HandshakeTimeout != httpserver.HandshakeTimeout {
		t.Fatalf("timeouts: header %s idle %s handshake %s", e.HTTP.HTTPServer().ReadHeaderTimeout, e.HTTP.HTTPServer().IdleTimeout, httpserver.Upgrader.HandshakeTimeout)
	}
	c, err := net.Dial("tcp", e.HTTP.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	big := "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", httpserver.MaxHeaderBytes+8192) + "\r\n\r\n"
	if _, err := c.Write([]byte(big)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("oversized header: %d, want 431", resp.StatusCode)
	}
}

// With TLS, every answer carries HSTS, and plain http is not served.
func TestTLSServesHSTS(t *testing.T) {
	dir := t.TempDir()
	f, err := certs.Init(dir, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := certs.Load(f.Cert, f.Key)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(filepath.Join(dir, certs.CAFile))
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	e := startDashboardWith(t, func(s *httpserver.Server) {
		s.UseTLS(cert)
		s.SetClientTimeouts(time.Second, 0)
	}, client)
	if !strings.HasPrefix(e.HTTP.URL(), "https://") {
		t.Fatalf("URL %s", e.HTTP.URL())
	}
	for _, path := range []string{"/healthz", "/api/v1/admin/users", "/nothing"} {
		resp, err := client.Get(e.HTTP.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("Strict-Transport-Security") != httpserver.HSTSHeader || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
			t.Errorf("%s: %d HSTS %q", path, resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
		}
	}
	// A client that never starts its TLS handshake is cut off at the
	// header timeout.
	c, err := net.Dial("tcp", e.HTTP.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	if _, err := c.Read(make([]byte, 1)); err == nil || time.Since(start) > 4*time.Second {
		t.Fatalf("a silent TLS client: %v after %s", err, time.Since(start))
	}
}
