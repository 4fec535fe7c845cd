package http

// The admin API (/api/v1/admin/…), the sync status (/api/v1/sync/status)
// and the dashboard page (/admin). Every admin endpoint takes an ADMIN
// dashboard session (a login without deviceId) as a bearer token: no token
// or a dead one is 401 UNAUTHENTICATED, any other role (or an ADMIN's
// workstation session) is 403 FORBIDDEN. The sync status also accepts the
// read-only monitoring token (WARDSYNC_MONITORING_TOKEN). The events stream
// too takes its token only as a bearer header, never in its URL.

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"wardsync/frontend"
	"wardsync/server"
	"wardsync/server/postgres"
	"wardsync/workflow"
)

// adminState is what the admin and monitoring code keeps per Server. It
// hangs off s.metrics (see metrics.go) because the Server struct's fields
// are owned by server.go.
type adminState struct {
	mu              sync.Mutex
	monitoringToken string

	events *eventBroker

	presenceMu sync.Mutex
	lastTouch  time.Time

	// health is the thresholds the server's flags set (SetHealthThresholds).
	health Thresholds

	shutdownOnce sync.Once
	shutdown     chan struct{}
}

func (s *Server) admin() *adminState { return s.metrics.admin }

// SetMonitoringToken sets the read-only token that /api/v1/sync/status
// accepts besides an ADMIN session. New reads WARDSYNC_MONITORING_TOKEN; an
// empty token disables it.
func (s *Server) SetMonitoringToken(token string) {
	a := s.admin()
	a.mu.Lock()
	a.monitoringToken = token
	a.mu.Unlock()
}

func (s *Server) isMonitoringToken(tok string) bool {
	a := s.admin()
	a.mu.Lock()
	want := a.monitoringToken
	a.mu.Unlock()
	return want != "" && tok != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(want)) == 1
}

// adminRoutes mounts the admin API, the sync status and the dashboard.
func (s *Server) adminRoutes() {
	s.metrics.admin = &adminState{
		monitoringToken: os.Getenv("WARDSYNC_MONITORING_TOKEN"),
		shutdown:        make(chan struct{}),
		health:          DefaultThresholds(),
	}
	s.metrics.admin.events = newEventBroker(s)
	s.Registry.MustRegister(newDBCollector(s), newDeferredCollector(s), newSecurityCollector(s))

	s.mux.HandleFunc("GET /api/v1/sync/status", s.handleSyncStatus)
	s.mux.HandleFunc("POST /api/v1/devices/claim", s.handleClaimDevice)

	a := func(pattern string, h func(http.ResponseWriter, *http.Request, *postgres.Session)) {
		s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			sess, ok := s.requireAdmin(w, r, bearer(r))
			if !ok {
				return
			}
			// Who acts, from where: the security log records it.
			r = r.WithContext(postgres.WithWho(r.Context(), postgres.Who{UserID: sess.UserID, Name: sess.UserName, Address: s.clientAddress(r)}))
			s.noteActivity(r, sess)
			h(w, r, sess)
		})
	}
	a("GET /api/v1/admin/session", s.handleAdminSession)
	a("GET /api/v1/admin/users", s.handleListUsers)
	a("POST /api/v1/admin/users", s.handleCreateUser)
	a("PATCH /api/v1/admin/users/{id}", s.handlePatchUser)
	a("POST /api/v1/admin/users/{id}/password", s.handleResetPassword)
	a("POST /api/v1/admin/users/{id}/disable", s.handleDisableUser)
	a("POST /api/v1/admin/users/{id}/enable", s.handleEnableUser)
	a("GET /api/v1/admin/devices", s.handleListDevices)
	a("POST /api/v1/admin/devices", s.handleRegisterDevice)
	a("POST /api/v1/admin/devices/{id}/code", s.handleNewDeviceCode)
	a("POST /api/v1/admin/devices/{id}/revoke", s.handleRevokeDevice)
	a("GET /api/v1/admin/rejected", s.handleRejected)
	a("POST /api/v1/admin/rejected/{device}/{seq}/resolve", s.handleResolve)
	a("GET /api/v1/admin/audit", s.handleAudit)
	a("GET /api/v1/admin/patients", s.handlePatients)
	a("GET /api/v1/admin/board", s.handleBoard)
	a("GET /api/v1/admin/deferred", s.handleDeferred)
	a("GET /api/v1/admin/settings/health", s.handleHealthSettings)
	a("PUT /api/v1/admin/settings/health", s.handleSetHealthSettings)
	a("DELETE /api/v1/admin/settings/health", s.handleResetHealthSettings)
	a("GET /api/v1/admin/security-events", s.handleSecurityEvents)
	a("GET /api/v1/admin/security-events.csv", s.handleSecurityEventsCSV)
	s.duplicateRoutes(a)
	s.keyStateRoutes(a)
	s.mux.HandleFunc("GET /api/v1/admin/events", s.handleEvents)

	s.dashboardRoutes()
}

// requireAdmin authenticates tok as an ADMIN dashboard session, or answers
// 401/403 and returns false.
func (s *Server) requireAdmin(w http.ResponseWriter, r *http.Request, tok string) (*postgres.Session, bool) {
	sess, err := s.DB.Authenticate(r.Context(), tok)
	if err != nil {
		writeError(w, err)
		return nil, false
	}
	if !workflow.MayUseDashboard(sess.Role) {
		writeError(w, workflow.Reject(workflow.CodeForbidden, "The admin API is for ADMIN accounts; %s is a %s.", sess.UserName, sess.Role))
		return nil, false
	}
	if sess.DeviceID != "" {
		writeError(w, workflow.Reject(workflow.CodeForbidden, "A workstation session cannot use the admin API; log in at /admin."))
		return nil, false
	}
	return sess, true
}

func (s *Server) handleAdminSession(w http.ResponseWriter, r *http.Request, sess *postgres.Session) {
	writeJSON(w, http.StatusOK, map[string]any{
		"user":      userJSON{ID: sess.UserID, Name: sess.UserName, Role: sess.Role},
		"expiresAt": sess.ExpiresAt,
	})
}

// ---- users ----

type adminUserJSON struct {
	ID             string        `json:"id"`
	Name           string        `json:"name"`
	Email          string        `json:"email"`
	Role           workflow.Role `json:"role"`
	CreatedAt      time.Time     `json:"createdAt"`
	Disabled       bool          `json:"disabled"`
	DisabledAt     *time.Time    `json:"disabledAt,omitempty"`
	ActiveSessions int64         `json:"activeSessions"`
	// LastDisabledAt and EnabledAt survive a re-enable (the whole history
	// is in the security log).
	LastDisabledAt *time.Time `json:"lastDisabledAt,omitempty"`
	EnabledAt      *time.Time `json:"enabledAt,omitempty"`
}

func toUserJSON(u postgres.UserInfo) adminUserJSON {
	return adminUserJSON{ID: u.ID, Name: u.Name, Email: u.Email, Role: u.Role, CreatedAt: u.CreatedAt,
		Disabled: u.DisabledAt != nil, DisabledAt: u.DisabledAt, ActiveSessions: u.ActiveSessions,
		LastDisabledAt: u.LastDisabledAt, EnabledAt: u.EnabledAt}
}

func (s *Server) handleListUsers(w http.ResponseWriter, r *http.Request, _ *postgres.Session) {
	users, err := s.DB.ListUsers(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": each(users, toUserJSON)})
}

func (s *Server) writeUser(w http.ResponseWriter, r *http.Request, status int, id string) {
	u, err := s.DB.User(r.Context(), id)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, status, toUserJSON(*u))
}

func (s *Server) handleCreateUser(w http.ResponseWriter, r *http.Request, sess *postgres.Session) {
	var req struct {
		Name     string        `json:"name"`
		Email    string        `json:"email"`
		Password string        `json:"password"`
		Role     workflow.Role `json:"role"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	id, err := s.DB.AddUser(r.Context(), strings.TrimSpace(req.Name), strings.TrimSpace(req.Email), req.Password, req.Role)
	if err != nil {
		writeError(w, err)
		return
	}
	s.Logger.Info("admin: user created", "admin", sess.UserID, "user", id, "role", req.Role)
	s.writeUser(w, r, http.StatusCreated, id)
}

func (s *Server) handlePatchUser(w http.ResponseWriter, r *http.Request, sess *postgres.Session) {
	var req struct {
		Role workflow.Role `json:"role"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	s.changeUser(w, r, sess, "admin: role changed", func(id string) error {
		if id == sess.UserID {
			return workflow.Reject(workflow.CodeForbidden, "You cannot change your own role; ask another administrator.")
		}
		return s.DB.SetUserRole(r.Context(), id, req.Role)
	}, "role", req.Role)
}

func (s *Server) handleResetPassword(w http.ResponseWriter, r *http.Request, sess *postgres.Session) {
	var req struct {
		Password string `json:"password"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	s.changeUser(w, r, sess, "admin: password reset", func(id string) error {
		return s.DB.ResetPassword(r.Context(), id, req.Password)
	})
}

func (s *Server) handleDisableUser(w http.ResponseWriter, r *http.Request, sess *postgres.Session) {
	s.changeUser(w, r, sess, "admin: user disabled", func(id string) error {
		if id == sess.UserID {
			return workflow.Reject(workflow.CodeForbidden, "You cannot disable your own account; ask another administrator.")
		}
		if err := s.DB.CheckCanDisable(r.Context(), id); err != nil {
			return err
		}
		return s.DB.DisableUser(r.Context(), id)
	})
}

func (s *Server) handleEnableUser(w http.ResponseWriter, r *http.Request, sess *postgres.Session) {
	s.changeUser(w, r, sess, "admin: user enabled", func(id string) error {
		return s.DB.EnableUser(r.Context(), id)
	})
}

// changeUser makes an administrator's change to the user the path names
// and answers with the user as it now is; the log line (logged, with attrs)
// says who changed whom.
func (s *Server) changeUser(w http.ResponseWriter, r *http.Request, sess *postgres.Session, logged string, change func(id string) error, attrs ...any) {
	id := r.PathValue("id")
	if err := change(id); err != nil {
		writeError(w, err)
		return
	}
	s.Logger.Info(logged, append([]any{"admin", sess.UserID, "user", id}, attrs...)...)
	s.writeUser(w, r, http.StatusOK, id)
}

// ---- workstations ----

// deviceJSON is what every dashboard list says of a workstation first; the
// lists embed it, so its members lead their objects.
type deviceJSON struct {
	ID                  string          `json:"id"`
	Name                string          `json:"name"`
	Roles               []workflow.Role `json:"roles"`
	CreatedAt           time.Time       `json:"createdAt"`
	Revoked             bool            `json:"revoked"`
	RevokedAt           *time.Time      `json:"revokedAt,omitempty"`
	RegistrationPending bool            `json:"registrationPending"`
}

func toDeviceJSON(d postgres.DeviceHealth) deviceJSON {
	return deviceJSON{ID: d.ID, Name: d.Name, Roles: d.Roles, CreatedAt: d.CreatedAt, Revoked: d.RevokedAt != nil,
		RevokedAt: d.RevokedAt, RegistrationPending: d.RegistrationUntil != nil}
}

type adminDeviceJSON struct {
	deviceJSON
	RegistrationExpiresAt *time.Time   `json:"registrationExpiresAt,omitempty"`
	LastSeen              *time.Time   `json:"lastSeen,omitempty"`
	KeyState              keyStateJSON `json:"keyState"`
	IdleLockMinutes       *int         `json:"idleLockMinutes"`
}

func (s *Server) handleListDevices(w http.ResponseWriter, r *http.Request, _ *postgres.Session) {
	_, devs, err := s.DB.SyncHealth(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	out := each(devs, func(d postgres.DeviceHealth) adminDeviceJSON {
		return adminDeviceJSON{deviceJSON: toDeviceJSON(d), RegistrationExpiresAt: d.RegistrationUntil, LastSeen: d.LastSeen}
	})
	if err := s.withKeyStates(r, out); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"devices": out})
}

type registrationJSON struct {
	ID                    string          `json:"id"`
	Name                  string          `json:"name"`
	Roles                 []workflow.Role `json:"roles"`
	RegistrationCode      string          `json:"registrationCode"`
	RegistrationExpiresAt time.Time       `json:"registrationExpiresAt"`
}

func (s *Server) handleRegisterDevice(w http.ResponseWriter, r *http.Request, sess *postgres.Session) {
	var req struct {
		Name  string          `json:"name"`
		Roles []workflow.Role `json:"roles"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	d, code, until, err := s.DB.RegisterDevice(r.Context(), req.Name, req.Roles)
	if err != nil {
		writeError(w, err)
		return
	}
	s.Logger.Info("admin: workstation registered", "admin", sess.UserID, "device", d.ID, "name", d.Name, "roles", d.Roles)
	writeJSON(w, http.StatusCreated, registrationJSON{d.ID, d.Name, d.Roles, code, until})
}

func (s *Server) handleNewDeviceCode(w http.ResponseWriter, r *http.Request, sess *postgres.Session) {
	id := r.PathValue("id")
	code, until, err := s.DB.IssueRegistrationCode(r.Context(), id)
	if err != nil {
		writeError(w, err)
		return
	}
	d, err := s.DB.Device(r.Context(), id)
	if err != nil {
		writeError(w, err)
		return
	}
	s.Logger.Info("admin: registration code reissued", "admin", sess.UserID, "device", id)
	writeJSON(w, http.StatusOK, registrationJSON{d.ID, d.Name, d.Roles, code, until})
}

// DeviceRevokedCloseCode is the websocket close code a revoked workstation's
// connections receive.
const DeviceRevokedCloseCode = 4403

func (s *Server) handleRevokeDevice(w http.ResponseWriter, r *http.Request, sess *postgres.Session) {
	id := r.PathValue("id")
	if err := s.DB.RevokeDevice(r.Context(), id); err != nil {
		writeError(w, err)
		return
	}
	s.hub.kick(id, DeviceRevokedCloseCode, "device revoked")
	s.Logger.Info("admin: workstation revoked", "admin", sess.UserID, "device", id)
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "revoked": true})
}

// handleClaimDevice is the workstation's side of registration: it trades
// its id and one-time code for its name and roles. Rate-limited like logins.
func (s *Server) handleClaimDevice(w http.ResponseWriter, r *http.Request) {
	var req struct {
		DeviceID string `json:"deviceId"`
		Code     string `json:"code"`
		// PublicKey is the device's own key (protocol 2), registered with
		// the claim: its logins and sockets must prove they hold it.
		PublicKey []byte `json:"publicKey,omitempty"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	r = s.withAddress(r)
	ip := s.clientAddress(r)
	// A code is guessed like a password: the same shared counters, keyed by
	// the workstation and the address.
	key := "claim:" + req.DeviceID
	if wait, err := s.reserveLogin(r.Context(), key, ip); err != nil || wait > 0 {
		if err == nil {
			err = &rateLimited{wait: wait}
		}
		writeError(w, err)
		return
	}
	d, err := s.DB.RedeemRegistrationCode(r.Context(), req.DeviceID, req.Code, req.PublicKey)
	s.settleLogin(r.Context(), key, ip, true, err)
	if err != nil {
		writeError(w, err)
		return
	}
	s.Logger.Info("workstation claimed its registration", "device", d.ID, "ip", ip)
	writeJSON(w, http.StatusOK, map[string]any{"id": d.ID, "name": d.Name, "roles": d.Roles})
}

// ---- rejected acts and the audit log ----

type auditEntryJSON struct {
	DeviceID   string           `json:"deviceId"`
	DeviceName string           `json:"deviceName"`
	Seq        int64            `json:"seq"`
	MutationID string           `json:"mutationId"`
	Name       string           `json:"name"`
	Args       any              `json:"args"`
	Author     *auditAuthor     `json:"author,omitempty"`
	OccurredAt time.Time        `json:"occurredAt"`
	ReceivedAt time.Time        `json:"receivedAt"`
	Outcome    string           `json:"outcome"`
	Code       string           `json:"code,omitempty"`
	Message    string           `json:"message,omitempty"`
	Field      string           `json:"field,omitempty"`
	Target     *auditTarget     `json:"target,omitempty"`
	Resolution *auditResolution `json:"resolution,omitempty"`
	Chain      auditChain       `json:"chain"`
	// ReissueOf links a re-issued act to the rejected one it replaces
	// (seq absent when the server never recorded that act).
	ReissueOf *auditLink `json:"reissueOf,omitempty"`
	// Subject names the patient and visit the act concerns.
	Subject *workflow.ActSubject `json:"subject,omitempty"`
}

type auditLink struct {
	MutationID string `json:"mutationId,omitempty"`
	Seq        *int64 `json:"seq,omitempty"`
}

// auditChain is an act's link in its workstation's chain. status is "ok",
// "broken-content" (modified after it was written), "broken-link" (an act
// before it was removed or reordered) or "none" (recorded before the chain
// existed).
type auditChain struct {
	Status        string `json:"status"`
	PrevHash      string `json:"prevHash,omitempty"`
	Hash          string `json:"hash,omitempty"`
	ClaimedAuthor string `json:"claimedAuthor,omitempty"`
}

type auditAuthor struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Role string `json:"role"`
}

type auditTarget struct {
	Table string `json:"table"`
	ID    string `json:"id"`
}

type auditResolution struct {
	At   time.Time `json:"at"`
	By   string    `json:"by"`
	Note string    `json:"note,omitempty"`
	// Kind is "closed" or "reissued". BySeq is the same device's act that
	// resolved it: its rejected.close, or the re-issue (the link's other
	// way); absent when an administrator closed it on the dashboard.
	Kind  string `json:"kind"`
	BySeq *int64 `json:"bySeq,omitempty"`
}

// toAuditJSON is one audit entry as viewer may see it: each argument only
// if the viewer's role may read the column it writes
// (workflow.RedactArgs), so the audit log is no way around need to know.
func toAuditJSON(e postgres.AuditEntry, viewer workflow.Role) auditEntryJSON {
	out := auditEntryJSON{DeviceID: e.DeviceID, DeviceName: e.DeviceName, Seq: e.Seq, MutationID: e.MutationID,
		Name: e.Name, Args: visibleArgs(viewer, e.Name, e.Args), OccurredAt: e.OccurredAt, ReceivedAt: e.ReceivedAt, Outcome: e.Outcome,
		Code: e.Code, Message: workflow.RedactMessage(viewer, e.Name, e.Field, e.Message), Field: e.Field, Subject: e.Subject}
	if len(e.Args) == 0 {
		out.Args = nil
	}
	if e.AuthorID != "" {
		out.Author = &auditAuthor{e.AuthorID, e.AuthorName, e.AuthorRole}
	}
	if e.TargetID != "" {
		out.Target = &auditTarget{e.TargetTable, e.TargetID}
	}
	if e.ResolvedAt != nil {
		out.Resolution = &auditResolution{*e.ResolvedAt, e.ResolvedBy, e.Note, e.ResolutionKind, e.ResolvedBySeq}
	}
	if e.ReissueOf != "" {
		out.ReissueOf = &auditLink{e.ReissueOf, e.ReissueOfSeq}
	}
	out.Chain = auditChain{Status: "ok", PrevHash: e.PrevHash, Hash: e.Hash, ClaimedAuthor: e.ClaimedAuthorID}
	switch {
	case e.Hash == "":
		out.Chain.Status = "none"
	case e.ChainBreak != "":
		out.Chain.Status = "broken-" + e.ChainBreak
	}
	return out
}

// auditFilter reads the query parameters shared by /rejected and /audit.
func auditFilter(r *http.Request) (postgres.AuditFilter, error) {
	q := r.URL.Query()
	f := postgres.AuditFilter{
		DeviceID:  q.Get("device"),
		UserID:    q.Get("user"),
		PatientID: q.Get("patient"),
		Code:      strings.ToUpper(q.Get("code")),
		Outcome:   q.Get("outcome"),
		Name:      q.Get("name"),
		After:     q.Get("after"),
	}
	var err error
	if f.Since, f.Until, f.Limit, err = pageParams(q, postgres.MaxAuditPage); err != nil {
		return f, err
	}
	switch v := q.Get("chain"); v {
	case "":
	case "broken":
		f.ChainBroken = true
	default:
		return f, &workflow.Rejection{Code: workflow.CodeValidationFailed, Field: "chain", Message: "chain must be \"broken\" or left out."}
	}
	if v := q.Get("unresolved"); v != "" {
		f.Unresolved, err = strconv.ParseBool(v)
		if err != nil {
			return f, &workflow.Rejection{Code: workflow.CodeValidationFailed, Field: "unresolved", Message: "unresolved must be true or false."}
		}
	}
	return f, nil
}

// pageParams reads the since, until and limit parameters shared by the
// paged admin lists (audit, rejected, security log); limit, when given,
// must be from 1 to most.
func pageParams(q url.Values, most int) (since, until *time.Time, limit int, err error) {
	if since, err = timeParam(q.Get("since"), "since"); err != nil {
		return nil, nil, 0, err
	}
	if until, err = timeParam(q.Get("until"), "until"); err != nil {
		return since, nil, 0, err
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > most {
			return since, until, 0, &workflow.Rejection{Code: workflow.CodeValidationFailed, Field: "limit",
				Message: "limit must be a whole number from 1 to " + strconv.Itoa(most) + "."}
		}
		limit = n
	}
	return since, until, limit, nil
}

// timeParam accepts RFC 3339 or a date (midnight UTC).
func timeParam(v, field string) (*time.Time, error) {
	if v == "" {
		return nil, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return &t, nil
	}
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return &t, nil
	}
	return nil, &workflow.Rejection{Code: workflow.CodeValidationFailed, Field: field,
		Message: field + " must be an RFC 3339 time such as 2025-01-02T15:04:05Z or a date such as 2025-01-02."}
}

// visibleArgs decodes an act's recorded arguments and hides those viewer
// may not read; arguments that are not a JSON object (a malformed act that
// was rejected) are hidden whole.
func visibleArgs(viewer workflow.Role, name string, raw json.RawMessage) any {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var args map[string]any
	if err := json.Unmarshal(raw, &args); err != nil {
		return workflow.HiddenArg(viewer, name, "(arguments)")
	}
	return workflow.RedactArgs(viewer, name, args)
}

func (s *Server) writeAudit(w http.ResponseWriter, r *http.Request, f postgres.AuditFilter, viewer workflow.Role) {
	entries, next, err := s.DB.Audit(r.Context(), f)
	if err != nil {
		writeError(w, err)
		return
	}
	items := each(entries, func(e postgres.AuditEntry) auditEntryJSON { return toAuditJSON(e, viewer) })
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "next": next})
}

func (s *Server) handleRejected(w http.ResponseWriter, r *http.Request, sess *postgres.Session) {
	f, err := auditFilter(r)
	if err != nil {
		writeError(w, err)
		return
	}
	f.Outcome = "rejected"
	s.writeAudit(w, r, f, sess.Role)
}

func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request, sess *postgres.Session) {
	f, err := auditFilter(r)
	if err != nil {
		writeError(w, err)
		return
	}
	s.writeAudit(w, r, f, sess.Role)
}

func (s *Server) handleResolve(w http.ResponseWriter, r *http.Request, sess *postgres.Session) {
	var req struct {
		Note string `json:"note"`
	}
	if r.ContentLength != 0 {
		if err := decodeJSON(w, r, &req); err != nil {
			writeError(w, err)
			return
		}
	}
	seq, err := strconv.ParseInt(r.PathValue("seq"), 10, 64)
	if err != nil {
		writeError(w, &workflow.Rejection{Code: workflow.CodeValidationFailed, Field: "seq", Message: "seq must be a whole number."})
		return
	}
	device := r.PathValue("device")
	// The reason is required: the audit log keeps who closed it and why.
	if err := s.DB.ResolveRejection(r.Context(), device, seq, sess.UserID, strings.TrimSpace(req.Note)); err != nil {
		writeError(w, err)
		return
	}
	s.Logger.Info("admin: rejection resolved", "admin", sess.UserID, "device", device, "seq", seq)
	writeJSON(w, http.StatusOK, map[string]any{"deviceId": device, "seq": seq, "resolved": true})
}

func (s *Server) handlePatients(w http.ResponseWriter, r *http.Request, _ *postgres.Session) {
	ps, err := s.DB.SearchPatients(r.Context(), r.URL.Query().Get("q"), 20)
	if err != nil {
		writeError(w, err)
		return
	}
	type patientJSON struct {
		ID        string `json:"id"`
		Name      string `json:"name"`
		BirthDate string `json:"birthDate"`
	}
	out := each(ps, func(p postgres.PatientMatch) patientJSON {
		return patientJSON{p.ID, p.Name, p.BirthDate.Format("2006-01-02")}
	})
	writeJSON(w, http.StatusOK, map[string]any{"patients": out})
}

// ---- the dashboard page ----

// dashboardCSP allows only the page's own scripts, styles and API.
const dashboardCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"

func (s *Server) dashboardRoutes() {
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/admin", http.StatusFound)
	})
	s.mux.HandleFunc("GET /admin/{rest...}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/admin", http.StatusFound)
	})
	s.mux.HandleFunc("GET /admin", func(w http.ResponseWriter, r *http.Request) {
		page, err := fs.ReadFile(frontend.Dist, "admin.html")
		if err != nil {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("The admin dashboard was not built into this server: run `make frontend` and rebuild.\n"))
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		h.Set("Content-Security-Policy", dashboardCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		// The events stream carries the token in its URL: never leak it.
		h.Set("Referrer-Policy", "no-referrer")
		_, _ = w.Write(page)
	})
	assets := http.FileServerFS(frontend.Dist)
	s.mux.HandleFunc("GET /assets/", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		// Vite names assets by content hash: they never change.
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		assets.ServeHTTP(w, r)
	})
}

// ---- presence ----

// presenceEvery is how often the devices connected to this instance are
// marked seen, so that every instance's status shows them online.
const presenceEvery = 20 * time.Second

// touchPresence marks this instance's connected devices as seen now, at
// most once per presenceEvery.
func (s *Server) touchPresence(ctx context.Context) {
	a := s.admin()
	a.presenceMu.Lock()
	if time.Since(a.lastTouch) < presenceEvery {
		a.presenceMu.Unlock()
		return
	}
	a.lastTouch = time.Now()
	a.presenceMu.Unlock()
	if err := s.DB.TouchLastSeen(ctx, s.connectedDeviceIDs()); err != nil {
		s.Logger.Warn("mark connected workstations seen", "err", err)
	}
}

// connectedDeviceIDs lists the devices with a websocket on this instance.
func (s *Server) connectedDeviceIDs() []string {
	seen := map[string]bool{}
	var ids []string
	for _, c := range s.hub.snapshot() {
		if !seen[c.deviceID] {
			seen[c.deviceID] = true
			ids = append(ids, c.deviceID)
		}
	}
	return ids
}

// MonitorLoop keeps this instance's connected workstations marked seen (for
// the status of every instance) and closes, with 4403, the sockets of any
// that another instance revoked. Open should run it until shutdown; the
// status, metrics and events handlers also mark presence on their own.
func (s *Server) MonitorLoop(ctx context.Context) {
	server.Every(ctx, 5*time.Second, nil, func(bool) {
		s.touchPresence(ctx)
		ids := s.connectedDeviceIDs()
		if len(ids) == 0 {
			return
		}
		revoked, err := s.DB.RevokedAmong(ctx, ids)
		if err != nil {
			return
		}
		for _, id := range revoked {
			s.hub.kick(id, DeviceRevokedCloseCode, "device revoked")
		}
	})
}
