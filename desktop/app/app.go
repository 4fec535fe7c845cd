// Package app is the Wails adapter of the workstation: the bound App, whose
// methods the desktop UI (frontend/index.html) calls as
// window.go.app.App.<Method>. Every method is a thin call into the engine
// (package desktop); the clinical rules stay in package workflow, the SQL in
// desktop/sqlite.
//
// The package itself imports nothing of Wails, so it builds, vets and tests
// without cgo or WebKit: the Wails runtime's event emitter is injected as
// Config.Emit (runtime.EventsEmit aborts the process outside a Wails
// context), and FormatError is handed to Wails as its ErrorFormatter by the
// root main.go.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"wardsync/desktop"
	"wardsync/version"
	"wardsync/workflow"
)

// EventStatus is the event that carries every status change to the UI.
const EventStatus = "sync:status"

// Emitter sends an event to the UI (runtime.EventsEmit in the real app).
type Emitter func(ctx context.Context, name string, data any)

// Config builds an App.
type Config struct {
	// Engine opens the workstation's replica. DeviceID and ServerURL may
	// be empty on a first start: the UI then asks for them (Setup).
	Engine desktop.Config
	// DefaultServerURL is used when neither Engine.ServerURL nor the
	// replica names a server (make run's local server).
	DefaultServerURL string
	// Emit is the event emitter; nil drops events (tests that poll).
	Emit Emitter
	// SetTitle changes the window title (runtime.WindowSetTitle); nil
	// ignores it. The title names the user logged in, which also lets
	// scripts/shot.sh see that a dashboard is on screen.
	SetTitle func(ctx context.Context, title string)
	// Quit closes the window (runtime.Quit) when the App's context ends
	// (SIGINT/SIGTERM); Wails then calls Shutdown.
	Quit   func(ctx context.Context)
	Logger *slog.Logger
	// ClaimCode is the one-time registration code the installer was given
	// (CLAIM_CODE); it is redeemed at start while nobody has logged in on
	// this workstation, so that IT need not type it on every PC.
	ClaimCode string
	// IdleLock is how long the UI waits without input before it locks the
	// workstation (Lock); 0: never.
	IdleLock time.Duration
}

// App is bound to the UI. Its exported methods are the UI's whole API; the
// lifecycle methods Startup and Shutdown are given to Wails as OnStartup and
// OnShutdown (which Wails does not bind).
type App struct {
	cfg  Config
	base context.Context
	log  *slog.Logger
	now  func() time.Time

	mu      sync.RWMutex
	engine  *desktop.Engine
	wctx    context.Context // the Wails context, once started
	started bool
	stopped bool
	// runDone is closed when the current engine's Run and event
	// forwarder have returned.
	runDone chan struct{}
	// reissue is the rejected act whose copy the open form holds
	// (Reissuing): the next act of that name re-issues it.
	reissue struct {
		sync.Mutex
		id, name string
	}
	// reader is the user logged in on the window (reads.go).
	reader reader
	// claimed is closed when the installer's registration code has been
	// redeemed or refused; nil when there is no code to redeem.
	claimed chan struct{}
}

// New opens the replica. ctx bounds the App's whole life (the process's
// signal context).
func New(ctx context.Context, cfg Config) (*App, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Engine.Logger == nil {
		cfg.Engine.Logger = cfg.Logger
	}
	e, err := desktop.Open(ctx, cfg.Engine)
	if err != nil {
		return nil, fmt.Errorf("open the workstation replica %s: %w", cfg.Engine.DBPath, err)
	}
	if e.Status().ServerURL == "" && cfg.DefaultServerURL != "" {
		// Reopened so that the engine itself holds the address.
		if err := e.Close(ctx); err != nil {
			return nil, err
		}
		cfg.Engine.ServerURL = cfg.DefaultServerURL
		if e, err = desktop.Open(ctx, cfg.Engine); err != nil {
			return nil, fmt.Errorf("open the workstation replica %s: %w", cfg.Engine.DBPath, err)
		}
	}
	now := cfg.Engine.Now
	if now == nil {
		now = time.Now
	}
	return &App{cfg: cfg, base: ctx, log: cfg.Logger, now: now, engine: e}, nil
}

// Startup is Wails' OnStartup: it keeps the Wails context (for events) and
// starts syncing when the workstation is set up.
func (a *App) Startup(ctx context.Context) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.wctx, a.started = ctx, true
	a.startLocked()
	if a.cfg.ClaimCode != "" {
		a.claimed = make(chan struct{})
		go func(e *desktop.Engine, done chan struct{}) {
			defer close(done)
			a.claimInstalled(e)
		}(a.engine, a.claimed)
	}
	if a.cfg.Quit != nil {
		go func() {
			<-a.base.Done()
			a.cfg.Quit(ctx)
		}()
	}
}

// claimInstalled redeems the installer's registration code once the
// workstation knows its server and id, unless someone already logged in
// (then it was claimed before). A refusal is logged: the code may have
// been used by an earlier start, and the setup screen remains the way.
func (a *App) claimInstalled(e *desktop.Engine) {
	st := e.Status()
	if st.DeviceID == "" || st.ServerURL == "" {
		return
	}
	if first, err := e.NobodyLoggedIn(a.base); err != nil || !first {
		if err != nil {
			a.log.Warn("the installer's registration code was not redeemed", "device", st.DeviceID, "err", err)
		}
		return
	}
	reg, err := desktop.ClaimDevice(a.base, a.cfg.Engine.HTTPClient, st.ServerURL, st.DeviceID, a.cfg.ClaimCode, desktop.DeviceKeyPath(a.cfg.Engine))
	if err != nil {
		a.log.Warn("the installer's registration code was not redeemed", "device", st.DeviceID, "err", err)
		return
	}
	a.log.Info("workstation claimed with the installer's registration code", "device", reg.ID, "name", reg.Name, "roles", reg.Roles)
}

// Shutdown is Wails' OnShutdown: it stops syncing and closes the replica.
func (a *App) Shutdown(ctx context.Context) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped {
		return
	}
	a.stopped = true
	a.closeLocked(ctx)
}

// startLocked starts the engine's sync loop and the status forwarder.
func (a *App) startLocked() {
	e := a.engine
	done := make(chan struct{})
	a.runDone = done
	ch, _ := e.Subscribe() // Close ends it
	wctx := a.wctx
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// No lock here: closeLocked waits for this loop under the lock.
		for s := range ch {
			if a.cfg.Emit != nil && wctx != nil {
				a.cfg.Emit(wctx, EventStatus, a.statusOf(e, s))
			}
		}
	}()
	if st := e.Status(); st.DeviceID != "" && st.ServerURL != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.Run(a.base); err != nil {
				a.log.Error("sync loop stopped", "err", err)
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()
}

func (a *App) closeLocked(ctx context.Context) {
	if ctx == nil || ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
	}
	if err := a.engine.Close(ctx); err != nil {
		a.log.Error("close the replica", "err", err)
	}
	if a.runDone != nil {
		select {
		case <-a.runDone:
		case <-ctx.Done():
		}
		a.runDone = nil
	}
}

// eng returns the current engine for one call.
func (a *App) eng() (*desktop.Engine, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.stopped {
		return nil, errors.New("the workstation is shutting down")
	}
	return a.engine, nil
}

// onEngine runs do with the current engine.
func (a *App) onEngine(do func(e *desktop.Engine) error) error {
	e, err := a.eng()
	if err != nil {
		return err
	}
	return do(e)
}

// ---- status and setup ----

// Status is the sync status as the UI shows it.
type Status struct {
	desktop.Status
	// NeedsSetup: no server URL or device id yet; the UI shows the
	// first-start setup.
	NeedsSetup bool `json:"needsSetup"`
	// WaitingForLogin: not connected only because nobody has logged in
	// online yet (the engine has no token to connect with), which is not
	// an outage.
	WaitingForLogin bool `json:"waitingForLogin"`
	// Now is the workstation's clock (the engine's), for "waiting 12 min".
	Now time.Time `json:"now"`
	// Commit is the git commit this build came from (the About box, beside
	// the engine's Version).
	Commit string `json:"commit"`
	// IdleLockSeconds: the UI locks the workstation after this long
	// without input (0: never).
	IdleLockSeconds int64 `json:"idleLockSeconds"`
}

func (a *App) statusOf(e *desktop.Engine, s desktop.Status) Status {
	st := Status{Status: s, NeedsSetup: s.DeviceID == "" || s.ServerURL == "", Now: a.now().UTC(), Commit: version.CommitOrVCS(),
		IdleLockSeconds: int64(s.IdleLockAfter(a.cfg.IdleLock) / time.Second)}
	if !s.Online {
		// Only a workstation where nobody has ever logged in online is
		// "waiting for a login". Once someone has, being disconnected is
		// an outage even after everyone logged out (the login screen then
		// says work continues offline), whatever the sync loop's last
		// error happened to be when the status was taken.
		// A locked replica does not sync before a login opens it.
		creds, err := e.DB().Credentials(a.base)
		st.WaitingForLogin = s.Locked || (err == nil && len(creds) == 0)
	}
	return st
}

// Status returns the current status (the same value the "sync:status"
// event carries).
func (a *App) Status() (Status, error) {
	e, err := a.eng()
	if err != nil {
		return Status{}, err
	}
	return a.statusOf(e, e.Status()), nil
}

// SetupResult is what Setup did.
type SetupResult struct {
	DeviceID string          `json:"deviceId"`
	Name     string          `json:"name,omitempty"`
	Roles    []workflow.Role `json:"roles,omitempty"`
	Claimed  bool            `json:"claimed"`
}

// Setup binds the workstation to a server and a device id (first start, or
// the server moved). With a registration code it first redeems it at the
// server (the administrator got it when registering the workstation); a
// device registered with its roles already (such as the demo workstation)
// needs no code. A replica keeps the device id it was first set up with.
// caFile, when given, is the hospital's CA certificate (PEM): it is
// checked, used for the claim and kept beside the replica for every later
// start. The address must be https:// unless it is this computer.
func (a *App) Setup(serverURL, deviceID, code, caFile string) (*SetupResult, error) {
	serverURL = strings.TrimRight(strings.TrimSpace(serverURL), "/")
	deviceID, code, caFile = strings.TrimSpace(deviceID), strings.TrimSpace(code), strings.TrimSpace(caFile)
	if u, err := url.Parse(serverURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, invalid("serverUrl", "The server address must look like https://host:port (for example https://wardsync.hospital.org:8420).")
	}
	if err := desktop.CheckServerURL(serverURL); err != nil {
		if r, ok := workflow.AsRejection(err); ok {
			return nil, &workflow.Rejection{Code: r.Code, Message: r.Message, Field: "serverUrl"}
		}
		return nil, err
	}
	if deviceID == "" {
		return nil, invalid("deviceId", "Enter this workstation's id, as shown on the admin dashboard's Workstations page.")
	}
	security := a.cfg.Engine.Security
	if caFile != "" {
		security.CAFile = caFile
		if err := desktop.CheckSecurity(security); err != nil {
			if r, ok := workflow.AsRejection(err); ok {
				return nil, &workflow.Rejection{Code: r.Code, Message: r.Message, Field: "caFile"}
			}
			return nil, err
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped {
		return nil, errors.New("the workstation is shutting down")
	}
	if cur := a.engine.Status().DeviceID; cur != "" && cur != deviceID {
		return nil, invalid("deviceId", fmt.Sprintf(
			"This workstation's data belongs to device %s; it cannot become %s. Only the server address can change.", cur, deviceID))
	}
	res := &SetupResult{DeviceID: deviceID}
	if code != "" {
		client := a.cfg.Engine.HTTPClient
		if client == nil || caFile != "" {
			var err error
			if client, err = desktop.Client(security); err != nil {
				return nil, err
			}
		}
		reg, err := desktop.ClaimDevice(a.base, client, serverURL, deviceID, code, desktop.DeviceKeyPath(a.cfg.Engine))
		if err != nil {
			if r, ok := workflow.AsRejection(err); ok {
				return nil, r
			}
			return nil, fmt.Errorf("the server at %s could not be reached to redeem the code: %w", serverURL, err)
		}
		res.Name, res.Roles, res.Claimed = reg.Name, reg.Roles, true
	}
	// Reopen the replica bound to the new address and id; an open replica
	// stays open (its key passes to the new engine, in this process only).
	key := a.engine.HandOverKey()
	defer clear(key)
	if a.started {
		a.closeLocked(a.base)
	} else if err := a.engine.Close(a.base); err != nil {
		return nil, err
	}
	cfg := a.cfg.Engine
	cfg.ServerURL, cfg.DeviceID = serverURL, deviceID
	var e *desktop.Engine
	var err error
	if caFile != "" {
		err = desktop.StoreCA(cfg.DBPath, caFile)
		cfg.Security.CAFile = desktop.StoredCAFile(cfg.DBPath)
	}
	if err == nil {
		open := cfg
		open.DataKey = key
		e, err = desktop.Open(a.base, open)
	}
	if err != nil {
		// Put the old binding back so that the app stays usable.
		back := a.cfg.Engine
		back.DataKey = key
		if old, err2 := desktop.Open(a.base, back); err2 == nil {
			a.engine = old
			if a.started {
				a.startLocked()
			}
		}
		return nil, err
	}
	a.cfg.Engine = cfg
	a.engine = e
	if a.started {
		a.startLocked()
	}
	return res, nil
}

// SyncNow asks for an immediate push and pull.
func (a *App) SyncNow() error {
	return a.onEngine(func(e *desktop.Engine) error {
		e.SyncNow()
		return nil
	})
}

// ---- login ----

// Login logs a user in: online when the server answers, else offline by
// opening the user's key slot on this workstation.
func (a *App) Login(email, password string) (*desktop.Session, error) {
	// A nurse may log in the moment a freshly installed app opens: the
	// login waits for the claim, or the server would refuse the
	// workstation as unclaimed and the device key would not yet exist.
	a.mu.RLock()
	claimed := a.claimed
	a.mu.RUnlock()
	if claimed != nil {
		select {
		case <-claimed:
		case <-a.base.Done():
			return nil, a.base.Err()
		}
	}
	e, err := a.eng()
	if err != nil {
		return nil, err
	}
	s, err := e.Login(a.base, email, password)
	if err != nil {
		return nil, err
	}
	a.reader.set(s.User.ID)
	a.title(fmt.Sprintf("wardsync - %s (%s)", s.User.Name, s.User.Role))
	return s, nil
}

// Lock locks the workstation after a while without input: the replica
// closes and the UI hides every patient datum until a login. The user on
// screen unlocks with their password (offline too); another user's login
// ends their session.
func (a *App) Lock(userID string) error {
	return a.onEngine(func(e *desktop.Engine) error {
		if err := e.Lock(a.base, userID); err != nil {
			return err
		}
		a.title("wardsync - locked")
		return nil
	})
}

// Logout ends the user's session on this workstation.
func (a *App) Logout(userID string) error {
	return a.onEngine(func(e *desktop.Engine) error {
		if err := e.Logout(a.base, userID); err != nil {
			return err
		}
		a.reader.clear(userID)
		a.title("wardsync")
		return nil
	})
}

func (a *App) title(t string) {
	a.mu.RLock()
	ctx := a.wctx
	a.mu.RUnlock()
	if a.cfg.SetTitle != nil && ctx != nil {
		a.cfg.SetTitle(ctx, t)
	}
}

// Sessions lists the users whose session on this workstation is open.
func (a *App) Sessions() ([]desktop.Session, error) {
	e, err := a.eng()
	if err != nil {
		return nil, err
	}
	return e.Sessions(a.base)
}

// ---- reading ----

// Every read returns only what the reading user's role may read
// (reads.go): userID's where the method names one, else the user logged
// in on the window.

// Dashboard returns the user's role's work queues.
func (a *App) Dashboard(userID string) (*View[*desktop.Dashboard], error) {
	e, err := a.eng()
	if err != nil {
		return nil, err
	}
	d, err := e.Dashboard(a.base, userID)
	if err != nil {
		return nil, err
	}
	return &View[*desktop.Dashboard]{d, d.Role}, nil
}

// SearchPatients finds patients by name words and/or birth date (YYYY-MM-DD).
func (a *App) SearchPatients(name, birthDate string) ([]View[workflow.Patient], error) {
	e, id, role, err := a.engReader()
	if err != nil {
		return nil, err
	}
	ps, err := e.SearchPatientsFor(a.base, id, desktop.PatientQuery{Name: name, BirthDate: strings.TrimSpace(birthDate)})
	return patientViews(role, ps), err
}

// LikelyDuplicates lists the patients already on this workstation with the
// same names and birth date (YYYY-MM-DD), for reception's warning.
func (a *App) LikelyDuplicates(firstName, lastName, birthDate string) ([]View[workflow.Patient], error) {
	e, id, role, err := a.engReader()
	if err != nil {
		return nil, err
	}
	ps, err := e.LikelyDuplicatesFor(a.base, id, firstName, lastName, birthDate)
	return patientViews(role, ps), err
}

// Timeline returns a patient's record, newest first, as userID sees it:
// each entry with who did what on it, when and where (every workstation's
// acts when online, this workstation's queued ones offline).
func (a *App) Timeline(userID, patientID string) (*View[*desktop.Timeline], error) {
	e, role, err := a.engAs(userID)
	if err != nil {
		return nil, err
	}
	t, err := e.PatientTimelineFor(a.base, userID, patientID)
	if errors.Is(err, workflow.ErrNotFound) {
		return nil, &workflow.Rejection{Code: workflow.CodeNotFound, Message: "No patient with that id is on this workstation."}
	}
	if err != nil {
		return nil, err
	}
	return &View[*desktop.Timeline]{t, role}, nil
}

// Doctors lists the doctors an appointment may be booked with.
func (a *App) Doctors() ([]desktop.Person, error) {
	e, err := a.eng()
	if err != nil {
		return nil, err
	}
	return e.Staff(a.base, workflow.RoleDoctor)
}

// Pending lists the acts waiting to be sent (or whose outcome is not yet
// known), oldest first.
func (a *App) Pending() ([]View[desktop.PendingAct], error) {
	e, id, role, err := a.engReader()
	if err != nil {
		return nil, err
	}
	acts, err := e.PendingFor(a.base, id)
	if err != nil {
		return nil, err
	}
	return viewsFor(role, acts), nil
}

// Rejected lists the acts the server refused, newest first: the open ones,
// or all of them (closed, re-issued, resolved) when includeResolved.
func (a *App) Rejected(includeResolved bool) ([]View[desktop.RejectedAct], error) {
	e, id, role, err := a.engReader()
	if err != nil {
		return nil, err
	}
	acts, err := e.RejectedFor(a.base, id, includeResolved)
	if err != nil {
		return nil, err
	}
	return viewsFor(role, acts), nil
}

// CloseRejected closes a rejected act with a written reason (required),
// as userID. It stays on the workstation and in the server's audit log,
// which records who closed it, when and why; offline, the close waits in
// the outbox like an act.
func (a *App) CloseRejected(userID, id, reason string) (*Acted, error) {
	e, err := a.eng()
	if err != nil {
		return nil, err
	}
	res, err := e.CloseRejected(a.base, userID, id, strings.TrimSpace(reason))
	if err != nil {
		return nil, err
	}
	return &Acted{MutationID: res.ID, Seq: res.Seq, OccurredAt: res.OccurredAt, RowID: id}, nil
}

// Reissuing tells the engine which rejected act the form now open was
// copied from ("" when the form shown is not such a copy): the next act
// of the same name re-issues it, linked to it on the server. The UI calls
// it whenever its form panel changes.
func (a *App) Reissuing(id string) error {
	name := ""
	if id != "" {
		e, err := a.eng()
		if err != nil {
			return err
		}
		if name, _, err = e.CopyRejected(a.base, id); err != nil {
			return notOnThisWorkstation(err)
		}
	}
	a.reissue.Lock()
	a.reissue.id, a.reissue.name = id, name
	a.reissue.Unlock()
	return nil
}

// reissueFor returns the rejected act an act of name re-issues, if the
// open form is a copy of one.
func (a *App) reissueFor(name string) string {
	a.reissue.Lock()
	defer a.reissue.Unlock()
	if a.reissue.name != name {
		return ""
	}
	return a.reissue.id
}

// reissued forgets the copy once its act is queued: one re-issue per copy.
func (a *App) reissued(id string) {
	a.reissue.Lock()
	if a.reissue.id == id {
		a.reissue.id, a.reissue.name = "", ""
	}
	a.reissue.Unlock()
}

func notOnThisWorkstation(err error) error {
	if errors.Is(err, workflow.ErrNotFound) {
		return &workflow.Rejection{Code: workflow.CodeNotFound, Message: "That rejected act is not on this workstation."}
	}
	return err
}

// Copied is a rejected act's name and arguments, to prefill a new entry.
type Copied struct {
	Name string `json:"name"`
	Args any    `json:"args"`
}

// CopyRejected returns what was typed in a rejected act.
func (a *App) CopyRejected(id string) (*Copied, error) {
	e, err := a.eng()
	if err != nil {
		return nil, err
	}
	user, err := a.currentUser()
	if err != nil {
		return nil, err
	}
	name, args, err := e.CopyRejectedFor(a.base, user, id)
	if err != nil {
		return nil, notOnThisWorkstation(err)
	}
	return &Copied{Name: name, Args: rawJSON(args)}, nil
}

// ---- errors ----

// Problem is how the UI receives an error: the rejection's stable code,
// its sentence, and for VALIDATION_FAILED the refused field.
type Problem struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// CodeInternal marks an error that is not a workflow rejection (a disk
// failure, a bug): the UI shows its text as is.
const CodeInternal = string(workflow.CodeInternal)

// FormatError is Wails' ErrorFormatter: every error a bound method returns
// reaches the UI as a Problem, written as its JSON text. Text, not an
// object: Wails v2's native runtime rejects the call's promise with
// `new Error(<the value>)`, which turns an object into "[object Object]";
// a string survives as the Error's message, and the dev IPC passes it
// through unchanged. The UI's toProblem (frontend/src/desktop/api.ts)
// parses it back in both cases.
func FormatError(err error) any {
	b, jerr := json.Marshal(Format(err))
	if jerr != nil { // a Problem is three strings: cannot happen
		return err.Error()
	}
	return string(b)
}

// Format turns an error into a Problem.
func Format(err error) Problem {
	if r, ok := workflow.AsRejection(err); ok {
		return Problem{Code: string(r.Code), Message: r.Message, Field: r.Field}
	}
	if errors.Is(err, workflow.ErrNotFound) {
		return Problem{Code: string(workflow.CodeNotFound), Message: "That record is not on this workstation."}
	}
	return Problem{Code: CodeInternal, Message: err.Error()}
}

func invalid(field, msg string) *workflow.Rejection {
	return &workflow.Rejection{Code: workflow.CodeValidationFailed, Message: msg, Field: field}
}
