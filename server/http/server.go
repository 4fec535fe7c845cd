// Package http is the sync server's HTTP edge: the /sync websocket, the
// auth API, health and readiness, metrics, and the admin API and dashboard.
// It translates the one error type (*workflow.Rejection) into HTTP statuses
// and websocket error frames; no rule and no SQL lives here.
package http

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

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
	// DeferredSweep is how often parked acts are swept (retried when
	// another writer moved their row, rejected past their window);
	// 0: DefaultDeferredSweep.
	DeferredSweep time.Duration

	hub     *hub
	metrics *metrics
	// Login attempts allowed per minute per e-mail and per client address.
	emailLimiter, ipLimiter *loginLimiter
	mux                     *http.ServeMux
	httpSrv                 *http.Server
	ln                      net.Listener
	cancel                  context.CancelFunc
	wg                      sync.WaitGroup
	Registry                *prometheus.Registry
	// minWorkstation, when set, refuses the hello of a workstation whose
	// release is older (syncproto.CheckClientVersion); its queued acts
	// stay on it for after the update.
	minWorkstation atomic.Pointer[syncproto.ReleaseVersion]
}

// SetMinWorkstationVersion makes the server refuse workstations older than
// v (nil: accept every release). Safe while serving.
func (s *Server) SetMinWorkstationVersion(v *syncproto.ReleaseVersion) { s.minWorkstation.Store(v) }

// SetLoginLimits changes how many login attempts a minute are allowed per
// e-mail and per client address.
func (s *Server) SetLoginLimits(perEmail, perIP int) {
	s.emailLimiter = newLoginLimiter(perEmail, time.Minute)
	s.ipLimiter = newLoginLimiter(perIP, time.Minute)
}

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
		hub:          newHub(db, logger),
		Registry:     prometheus.NewRegistry(),
	}
	s.metrics = newMetrics(s.Registry, s.hub)
	s.Registry.MustRegister(newOpsCollector(s))
	s.emailLimiter = newLoginLimiter(10, time.Minute)
	s.ipLimiter = newLoginLimiter(120, time.Minute)
	s.mux = http.NewServeMux()
	s.routes()
	return s
}

func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /readyz", s.handleReady)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("POST /api/v1/auth/login", s.handleLogin)
	s.mux.HandleFunc("POST /api/v1/auth/logout", s.handleLogout)
	s.mux.HandleFunc("GET /sync", s.handleSync)
	s.patientRoutes()
	s.adminRoutes()
}

// Handler exposes the routes (tests mount it on httptest servers).
func (s *Server) Handler() http.Handler { return s.mux }

// Open listens on addr and starts serving and following the change feed.
func (s *Server) Open(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s.ln = ln
	ctx, s.cancel = context.WithCancel(context.Background())
	s.httpSrv = &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second}
	s.wg.Add(4)
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
func (s *Server) URL() string { return "http://" + s.Addr() }

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
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	DeviceID string `json:"deviceId"`
}

type loginResponse struct {
	Token     string    `json:"token"`
	User      userJSON  `json:"user"`
	ExpiresAt time.Time `json:"expiresAt"`
}

type userJSON struct {
	ID   string        `json:"id"`
	Name string        `json:"name"`
	Role workflow.Role `json:"role"`
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	ip := clientIP(r)
	if !s.emailLimiter.allow(strings.ToLower(req.Email), s.Now()) || !s.ipLimiter.allow(ip, s.Now()) {
		s.metrics.loginFailures.WithLabelValues("rate_limited").Inc()
		s.Logger.Warn("login rate limited", "email", req.Email, "ip", ip)
		writeError(w, &rateLimited{})
		return
	}
	token, sess, err := s.DB.Login(r.Context(), req.Email, req.Password, req.DeviceID)
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
	writeJSON(w, http.StatusOK, loginResponse{Token: token, User: userJSON{sess.UserID, sess.UserName, sess.Role}, ExpiresAt: sess.ExpiresAt})
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
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

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

const maxJSONBody = 1 << 20

func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &workflow.Rejection{Code: workflow.CodeValidationFailed, Message: "The request body is not the expected JSON: " + err.Error() + "."}
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

type rateLimited struct{}

func (*rateLimited) Error() string { return "too many login attempts" }

// writeError translates the one error type into an HTTP status at the edge.
func writeError(w http.ResponseWriter, err error) {
	var rl *rateLimited
	if errors.As(err, &rl) {
		w.Header().Set("Retry-After", "60")
		writeJSON(w, http.StatusTooManyRequests, map[string]string{"code": "RATE_LIMITED", "message": "Too many login attempts; wait a minute and try again."})
		return
	}
	rej, ok := workflow.AsRejection(err)
	if !ok {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"code": "INTERNAL", "message": "The server failed; the request was not applied. Try again."})
		return
	}
	writeJSON(w, httpStatus(rej.Code), rej)
}

func httpStatus(c workflow.Code) int {
	switch c {
	case workflow.CodeUnauthenticated:
		return http.StatusUnauthorized
	case workflow.CodeForbidden:
		return http.StatusForbidden
	case workflow.CodeNotFound:
		return http.StatusNotFound
	case workflow.CodeDuplicateID, workflow.CodeInvalidTransition:
		return http.StatusConflict
	default:
		return http.StatusBadRequest
	}
}

// loginLimiter is a fixed-window counter per key; enough to stop password
// guessing at one instance (each instance counts its own).
type loginLimiter struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	seen   map[string]*window
}

type window struct {
	start time.Time
	n     int
}

func newLoginLimiter(max int, w time.Duration) *loginLimiter {
	return &loginLimiter{max: max, window: w, seen: map[string]*window{}}
}

func (l *loginLimiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.seen) > 100000 {
		for k, w := range l.seen {
			if now.Sub(w.start) > l.window {
				delete(l.seen, k)
			}
		}
	}
	w := l.seen[key]
	if w == nil || now.Sub(w.start) > l.window {
		w = &window{start: now}
		l.seen[key] = w
	}
	w.n++
	return w.n <= l.max
}
