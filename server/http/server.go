// Package http is the sync server's HTTP edge: the /sync websocket, the
// auth API, health and readiness, metrics, and the admin API and dashboard.
// It translates the one error type (*workflow.Rejection) into HTTP statuses
// and websocket error frames; no rule and no SQL lives here.
package http

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"wardsync/server/certs"
	"wardsync/server/postgres"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// Server serves HTTP and websockets in front of one database.
type Server struct {
	DB     *postgres.DB
	Logger *slog.Logger
	// Now is the clock used for rate limits and the welcome's serverTime.
	Now func() time.Time

	// PingInterval and WriteTimeout govern websocket keepalive and how long
	// a slow reader may hold a write before its connection is dropped.
	PingInterval time.Duration
	WriteTimeout time.Duration
	// HelloTimeout is how long a socket may stay open without a hello. A
	// workstation says hello at once; a socket that does not holds a
	// connection and shows on the dashboard as "checking its queue" for as
	// long as it stays, so it is refused (PROTOCOL_ERROR) and closed.
	HelloTimeout time.Duration
	// DeferredSweep is how often parked acts are swept (retried when
	// another writer moved their row, rejected past their window);
	// 0: DefaultDeferredSweep.
	DeferredSweep time.Duration

	hub     *hub
	metrics *metrics
	// acc holds the login limits, trusted proxies and session watch
	// (login_limits.go, session_watch.go).
	acc      *accessState
	mux      *http.ServeMux
	httpSrv  *http.Server
	ln       net.Listener
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	Registry *prometheus.Registry
	// minWorkstation, when set, refuses the hello of a workstation whose
	// release is older (syncproto.CheckClientVersion); its queued acts
	// stay on it for after the update.
	minWorkstation atomic.Pointer[syncproto.ReleaseVersion]
	// tlsCert is the certificate served when TLS is on (UseTLS),
	// metricsToken what /metrics needs to name workstations, headerTimeout
	// and bodyTimeout limits other than the defaults (hardening.go).
	tlsCert       *certs.Reloader
	metricsToken  string
	headerTimeout time.Duration
	bodyTimeout   time.Duration
}

// SetMinWorkstationVersion makes the server refuse workstations older than
// v (nil: accept every release). Safe while serving.
func (s *Server) SetMinWorkstationVersion(v *syncproto.ReleaseVersion) { s.minWorkstation.Store(v) }

// New wires a server on db.
func New(db *postgres.DB, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.Default()
	}
	s := &Server{
		DB:           db,
		Logger:       logger,
		Now:          time.Now,
		PingInterval: 20 * time.Second,
		WriteTimeout: 10 * time.Second,
		HelloTimeout: time.Minute,
		hub:          newHub(db, logger),
		Registry:     prometheus.NewRegistry(),
	}
	s.metrics = newMetrics(s.Registry, s.hub)
	s.Registry.MustRegister(newOpsCollector(s))
	s.acc = &accessState{limits: DefaultLoginLimits(), holds: map[string]*sync.Mutex{}}
	s.mux = http.NewServeMux()
	s.routes()
	return s
}

func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /readyz", s.handleReady)
	s.mux.HandleFunc("GET /metrics", s.handleMetrics)
	s.mux.HandleFunc("POST /api/v1/auth/login", s.handleLogin)
	s.mux.HandleFunc("POST /api/v1/auth/logout", s.handleLogout)
	s.mux.HandleFunc("POST /api/v1/auth/challenge", s.handleChallenge)
	s.mux.HandleFunc("GET /sync", s.handleSync)
	s.mux.HandleFunc("GET /api/v1/devices/{id}/standing", s.handleDeviceStanding)
	s.patientRoutes()
	s.adminRoutes()
}

// Handler exposes the routes behind the server-wide headers (tests mount
// it on httptest servers).
func (s *Server) Handler() http.Handler { return s.handler() }

// Open listens on addr and starts serving and following the change feed.
func (s *Server) Open(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	if s.tlsCert != nil {
		ln = tls.NewListener(ln, s.tlsConfig())
	}
	s.ln = ln
	ctx, s.cancel = context.WithCancel(context.Background())
	s.httpSrv = s.newHTTPServer()
	s.wg.Add(5)
	go func() {
		defer s.wg.Done()
		s.watchSessions(ctx)
	}()
	go func() {
		defer s.wg.Done()
		s.MonitorLoop(ctx)
	}()
	go func() {
		defer s.wg.Done()
		s.DeferredLoop(ctx)
	}()
	go func() {
		defer s.wg.Done()
		if err := s.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.Logger.Error("http serve", "err", err)
		}
	}()
	go func() {
		defer s.wg.Done()
		_ = s.DB.Listen(ctx, func(head int64) {
			s.metrics.head.Set(float64(head))
			s.hub.poke(head)
		})
	}()
	return nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the server's base URL.
func (s *Server) URL() string {
	if s.tlsCert != nil {
		return "https://" + s.Addr()
	}
	return "http://" + s.Addr()
}

// Close stops accepting, lets requests in flight finish (a push's
// transaction completes), and closes websockets with 1001 "going away".
func (s *Server) Close(ctx context.Context) error {
	if s.httpSrv == nil {
		return nil
	}
	s.hub.closeAll()
	err := s.httpSrv.Shutdown(ctx)
	s.cancel()
	s.hub.wait(ctx)
	s.wg.Wait()
	return err
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if err := s.DB.Ready(ctx); err != nil {
		code, msg := readyCode(err)
		s.Logger.Warn("not ready", "code", code, "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "code": code, "message": msg})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	DeviceID string `json:"deviceId"`
	// SignKey is the public half of the session's signing key (protocol
	// 2): required from a workstation, absent from the dashboard.
	SignKey []byte `json:"signKey,omitempty"`
	// Nonce and DeviceProof prove the workstation holds its device key
	// (POST /api/v1/auth/challenge, then syncproto.ProveDevice).
	Nonce       string `json:"nonce,omitempty"`
	DeviceProof string `json:"deviceProof,omitempty"`
}

// userJSON is a user as the login answer and the dashboard's session name it.
type userJSON = syncproto.LoginUser

func (s *Server) access() *accessState { return s.acc }

// withAddress puts the request's client address in its context, for the
// security log.
func (s *Server) withAddress(r *http.Request) *http.Request {
	return r.WithContext(postgres.WithWho(r.Context(), postgres.Who{Address: s.clientAddress(r)}))
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	r = s.withAddress(r)
	ip := s.clientAddress(r)
	counted, err := s.admitLogin(r.Context(), req, ip)
	if err != nil {
		var rl *rateLimited
		if !errors.As(err, &rl) {
			s.Logger.Error("login limits", "err", err)
		}
		if errors.As(err, &rl) {
			s.metrics.loginFailures.WithLabelValues("rate_limited").Inc()
			s.Logger.Warn("login rate limited", "email", req.Email, "ip", ip, "wait", rl.wait)
			if lerr := s.DB.LogSecurityEvent(r.Context(), postgres.SecurityEvent{Kind: postgres.EventLoginFailed,
				UserEmail: postgres.NormalizeEmail(req.Email), DeviceID: req.DeviceID, Reason: "rate limited"}); lerr != nil {
				s.Logger.Error("security log", "err", lerr)
			}
		}
		writeError(w, err)
		return
	}
	token, sess, err := s.DB.Login(r.Context(), req.Email, req.Password, req.DeviceID, req.SignKey,
		postgres.DeviceProof{Nonce: req.Nonce, Proof: req.DeviceProof})
	s.settleLogin(r.Context(), req.Email, ip, counted, err)
	if err != nil {
		reason := "error"
		if rej, ok := workflow.AsRejection(err); ok {
			reason = strings.ToLower(string(rej.Code))
		}
		s.metrics.loginFailures.WithLabelValues(reason).Inc()
		s.Logger.Warn("login refused", "email", req.Email, "device", req.DeviceID, "ip", ip, "err", err)
		writeError(w, err)
		return
	}
	s.Logger.Info("login", "user", sess.UserID, "role", sess.Role, "device", sess.DeviceID, "ip", ip)
	answer := syncproto.LoginAnswer{Token: token, SessionID: sess.ID, User: userJSON{ID: sess.UserID, Name: sess.UserName, Role: sess.Role}, ExpiresAt: sess.ExpiresAt}
	if answer.ReplicaKey, err = s.replicaKeyFor(r.Context(), sess.DeviceID); err != nil {
		s.Logger.Error("login: escrowed replica key", "device", sess.DeviceID, "err", err)
		writeError(w, err)
		return
	}
	if m, err := s.idleLockFor(r.Context(), sess.DeviceID); err != nil {
		writeError(w, err)
		return
	} else {
		answer.SetIdleLock(m)
	}
	writeJSON(w, http.StatusOK, answer)
}

// handleChallenge hands out a single-use nonce for a device proof.
func (s *Server) handleChallenge(w http.ResponseWriter, r *http.Request) {
	nonce, until, err := s.DB.NewChallenge(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"nonce": nonce, "expiresAt": until})
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	r = s.withAddress(r)
	if err := s.DB.Logout(r.Context(), bearer(r)); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "logged out"})
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if t, ok := strings.CutPrefix(h, "Bearer "); ok {
		return strings.TrimSpace(t)
	}
	return ""
}

const maxJSONBody = 1 << 20

func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &workflow.Rejection{Code: workflow.CodeValidationFailed, Message: "The request body is not the expected JSON: " + err.Error() + "."}
	}
	// One JSON value and nothing after it: trailing data would be a second
	// request smuggled past the checks, or a client bug.
	if _, err := dec.Token(); err != io.EOF {
		return &workflow.Rejection{Code: workflow.CodeValidationFailed, Message: MsgTrailingJSON}
	}
	return nil
}

// MsgTrailingJSON refuses a request body with anything after its JSON value.
const MsgTrailingJSON = "The request body has data after its JSON value; send exactly one JSON object."

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// MsgUnavailable is UNAVAILABLE's sentence: PostgreSQL is out of reach (a
// restart, a failover). It is read beside the acts waiting to be sent.
const MsgUnavailable = "The server cannot reach its database just now; nothing is lost: the acts are kept on this workstation and will be sent again when it is back."

// unavailable turns PostgreSQL out of reach into UNAVAILABLE, which a
// workstation retries with its acts kept, instead of INTERNAL; any other
// err is left as it is.
func unavailable(err error) error {
	if postgres.Unavailable(err) {
		return &workflow.Rejection{Code: workflow.CodeUnavailable, Message: MsgUnavailable}
	}
	return err
}

// writeError translates the one error type into an HTTP status at the edge.
func writeError(w http.ResponseWriter, err error) {
	err = unavailable(err)
	var rl *rateLimited
	if errors.As(err, &rl) {
		w.Header().Set("Retry-After", strconv.Itoa(rl.seconds()))
		writeJSON(w, syncproto.HTTPStatus(workflow.CodeRateLimited), map[string]any{"code": workflow.CodeRateLimited, "message": rl.message(), "retryAfter": rl.seconds()})
		return
	}
	rej, ok := workflow.AsRejection(err)
	if !ok {
		writeJSON(w, syncproto.HTTPStatus(workflow.CodeInternal), map[string]any{"code": workflow.CodeInternal, "message": "The server failed; the request was not applied. Try again."})
		return
	}
	writeJSON(w, syncproto.HTTPStatus(rej.Code), rej)
}
