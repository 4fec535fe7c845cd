package http

// The server's own transport security and limits: TLS with a certificate
// re-read on SIGHUP, HSTS, timeouts against slow clients, and the metrics
// token. Reverse proxies are no longer needed for any of these.

import (
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"wardsync/server/certs"
	"wardsync/server/postgres"
	"wardsync/workflow"
)

// Timeouts of the HTTP server. A request's headers must arrive within
// ReadHeaderTimeout (slowloris); a request body (POST, PUT, PATCH, DELETE)
// within BodyReadTimeout. GETs get no whole-request deadline: the /sync
// websocket and the dashboard's event stream are GETs that stay open, and
// the websocket keeps its own deadlines (pings). An idle keep-alive
// connection is closed after IdleTimeout, and a websocket upgrade must
// complete within HandshakeTimeout.
const (
	ReadHeaderTimeout = 10 * time.Second
	BodyReadTimeout   = 30 * time.Second
	IdleTimeout       = 2 * time.Minute
	HandshakeTimeout  = 10 * time.Second
	// MaxHeaderBytes bounds a request's headers; a bigger one gets 431.
	MaxHeaderBytes = 64 << 10
)

// HSTSHeader is sent on every response of a server with TLS: browsers
// then refuse plain http to it for a year.
const HSTSHeader = "max-age=31536000"

// UseTLS makes Open serve TLS with the certificate r serves (which Reload
// replaces without a restart). Call before Open.
func (s *Server) UseTLS(r *certs.Reloader) { s.tlsCert = r }

// TLS reports whether the server serves TLS.
func (s *Server) TLS() bool { return s.tlsCert != nil }

func (s *Server) tlsConfig() *tls.Config { return certs.ServerConfig(s.tlsCert) }

// handler is the mux behind the server-wide headers and limits.
func (s *Server) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.tlsCert != nil {
			w.Header().Set("Strict-Transport-Security", HSTSHeader)
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			body := BodyReadTimeout
			if s.bodyTimeout > 0 {
				body = s.bodyTimeout
			}
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(body))
		}
		s.mux.ServeHTTP(w, r)
	})
}

// SetClientTimeouts changes how long a client may take to send its
// headers and a request body (0 keeps ReadHeaderTimeout, BodyReadTimeout).
// Call before Open.
func (s *Server) SetClientTimeouts(header, body time.Duration) {
	s.headerTimeout, s.bodyTimeout = header, body
}

func (s *Server) newHTTPServer() *http.Server {
	header := ReadHeaderTimeout
	if s.headerTimeout > 0 {
		header = s.headerTimeout
	}
	return &http.Server{
		Handler:           s.handler(),
		ReadHeaderTimeout: header,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		// TLS handshake failures (a workstation that does not trust the
		// certificate) and slow clients cut off land in the server's log.
		ErrorLog: slog.NewLogLogger(s.Logger.Handler(), slog.LevelInfo),
	}
}

// SetMetricsToken sets the bearer token that /metrics needs to show
// per-workstation series (ids, names, roles). Without it, or when a scrape
// does not present it, /metrics shows only aggregate series: a workstation
// list is a map of the wards for whoever can reach the port.
func (s *Server) SetMetricsToken(token string) { s.metricsToken = token }

// deviceLabels are the labels that name a workstation.
var deviceLabels = map[string]bool{"device": true, "name": true, "roles": true}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	full := false
	if tok := bearer(r); tok != "" {
		if s.metricsToken == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(s.metricsToken)) != 1 {
			writeError(w, &workflow.Rejection{Code: workflow.CodeUnauthenticated,
				Message: "The metrics token is wrong; scrape without one for the aggregate figures, or with the server's -metrics-token for per-workstation ones."})
			return
		}
		full = true
	}
	var g prometheus.Gatherer = s.Registry
	if !full {
		g = prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
			mfs, err := s.Registry.Gather()
			return withoutDeviceSeries(mfs), err
		})
	}
	promhttp.HandlerFor(g, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}

// withoutDeviceSeries drops every series labelled with a workstation, and
// the families left empty.
func withoutDeviceSeries(mfs []*dto.MetricFamily) []*dto.MetricFamily {
	out := mfs[:0]
	for _, mf := range mfs {
		kept := mf.Metric[:0]
		for _, m := range mf.Metric {
			named := false
			for _, l := range m.GetLabel() {
				if deviceLabels[l.GetName()] {
					named = true
					break
				}
			}
			if !named {
				kept = append(kept, m)
			}
		}
		if len(kept) > 0 {
			mf.Metric = kept
			out = append(out, mf)
		}
	}
	return out
}

// readyCode is what /readyz says when the database is not ready: a code an
// operator can look up, never the driver's text (it names hosts, users and
// schema details). The full error goes to the server's log.
func readyCode(err error) (code workflow.Code, message string) {
	if errors.Is(err, postgres.ErrMigrationsPending) {
		return workflow.CodeMigrationsPending, "The database schema is older than this server; run wardsync-server migrate."
	}
	return workflow.CodeDatabaseUnavailable, "The database cannot be reached or read; the server's log has the details."
}
