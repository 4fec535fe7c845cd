package http

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"wardsync/server/postgres"
	"wardsync/version"
	"wardsync/workflow"
)

// Workstation health. The dashboard's status-colour logic
// (frontend/src/admin/status.ts) applies the same rule; both are tested
// against the same cases (frontend/src/admin/status-cases.json).

// OnlineWindow: a device seen this recently counts as online even when it
// is connected to another instance (instances mark their devices seen every
// 20 s), unless its socket was seen to end.
const OnlineWindow = time.Minute

// Thresholds are when a workstation turns "Late" (amber) and "Stalled"
// (red). The server's flags set them (serve -health-late-unseen,
// -health-late-pending, -health-stalled); an administrator may override
// them on the dashboard (stored in sync.settings, healthSetting).
type Thresholds struct {
	// LateUnseen: offline, or not seen, for this long turns the row Late.
	LateUnseen time.Duration
	// LatePending: an act queued on the workstation for this long turns
	// it Late.
	LatePending time.Duration
	// Stalled: either of them this long turns it Stalled.
	Stalled time.Duration
}

// DefaultThresholds: Late after 5 min unseen or an act queued 15 min,
// Stalled after an hour.
func DefaultThresholds() Thresholds {
	return Thresholds{LateUnseen: 5 * time.Minute, LatePending: 15 * time.Minute, Stalled: time.Hour}
}

// Check refuses thresholds that cannot order the colours: each at least a
// minute, at most 30 days, and Stalled after both Late ones.
func (t Thresholds) Check() error {
	for _, f := range []struct {
		field, label string
		d            time.Duration
	}{{"lateUnseenMinutes", "Late when offline for", t.LateUnseen}, {"latePendingMinutes", "Late when an act waits for", t.LatePending}, {"stalledMinutes", "Stalled after", t.Stalled}} {
		if f.d < time.Minute || f.d > 30*24*time.Hour {
			return &workflow.Rejection{Code: workflow.CodeValidationFailed, Field: f.field,
				Message: fmt.Sprintf("%q must be between 1 min and 30 days; got %s.", f.label, humanDuration(max(f.d, 0)))}
		}
	}
	if t.Stalled <= t.LateUnseen || t.Stalled <= t.LatePending {
		return &workflow.Rejection{Code: workflow.CodeValidationFailed, Field: "stalledMinutes",
			Message: fmt.Sprintf("Stalled after %s must come later than both Late thresholds (%s offline, %s waiting).",
				humanDuration(t.Stalled), humanDuration(t.LateUnseen), humanDuration(t.LatePending))}
	}
	return nil
}

// Health classes of a workstation row.
const (
	HealthOK      = "ok"
	HealthOffline = "offline" // its socket ended or it is unseen, not Late yet
	HealthAmber   = "amber"   // "Late"
	HealthRed     = "red"     // "Stalled"
	HealthNew     = "new"     // registered, never connected
	HealthRevoked = "revoked" // can no longer synchronise
)

// HealthInput is what the colour of a workstation depends on.
type HealthInput struct {
	Revoked   bool
	Connected bool // has a websocket on this instance
	LastSeen  *time.Time
	// DisconnectedAt: its last socket ended then, and none was welcomed
	// since, on any instance.
	DisconnectedAt  *time.Time
	Pending         int64
	OldestPendingAt *time.Time
	// ConnectedAt: its latest socket opened then (stamped again at the
	// welcome); QueueReportedAt: Pending and OldestPendingAt were reported
	// then. A report older than the socket came over an earlier link.
	ConnectedAt, QueueReportedAt *time.Time
}

// Health is a workstation's class with the reason a person reads, and
// whether it counts as online.
type Health struct {
	Class  string
	Reason string
	Online bool
	// OfflineSince is when an offline workstation was last known
	// connected: its socket's end, else when it was last seen.
	OfflineSince *time.Time
}

// Classify applies the dashboard's rule at now. Thresholds are inclusive.
// An offline workstation is never "in sync": the server cannot know the acts
// made since its link dropped, so it says when the link dropped and what
// the workstation last reported, in loc's clock. Nor is one whose socket
// opened after its last report, until its hello reports the queue again:
// it keeps the colour of that report, and says it is being checked.
func Classify(now time.Time, in HealthInput, th Thresholds, loc *time.Location) Health {
	var h Health
	if in.Revoked {
		h.Class, h.Reason = HealthRevoked, "revoked"
		return h
	}
	if !in.Connected && in.LastSeen == nil && in.DisconnectedAt == nil {
		h.Class, h.Reason = HealthNew, "never connected"
		return h
	}
	waiting := time.Duration(0)
	if in.Pending > 0 && in.OldestPendingAt != nil {
		waiting = max(now.Sub(*in.OldestPendingAt), 0)
	}
	pendingWhy := "oldest pending act waiting " + humanDuration(waiting)
	h.Online = in.Connected || (in.DisconnectedAt == nil && in.LastSeen != nil && now.Sub(*in.LastSeen) <= OnlineWindow)
	if !h.Online {
		since := in.LastSeen
		if in.DisconnectedAt != nil {
			since = in.DisconnectedAt
		}
		h.OfflineSince = since
		off := max(now.Sub(*since), 0)
		h.Reason = OfflineReason(*since, now, in.Pending, loc)
		switch {
		case off >= th.Stalled || waiting >= th.Stalled:
			h.Class = HealthRed
		case off >= th.LateUnseen || waiting >= th.LatePending:
			h.Class = HealthAmber
		default:
			h.Class = HealthOffline
		}
		return h
	}
	switch {
	case waiting >= th.Stalled:
		h.Class, h.Reason = HealthRed, pendingWhy
	case waiting >= th.LatePending:
		h.Class, h.Reason = HealthAmber, pendingWhy
	default:
		h.Class, h.Reason = HealthOK, "in sync"
		if in.Pending > 0 {
			h.Reason = strconv.FormatInt(in.Pending, 10) + " waiting to be sent"
		}
	}
	if in.ConnectedAt != nil && (in.QueueReportedAt == nil || in.QueueReportedAt.Before(*in.ConnectedAt)) {
		h.Reason = "connected — checking its queue (none reported yet)"
		if in.QueueReportedAt != nil {
			h.Reason = fmt.Sprintf("connected — checking its queue (last reported: %d waiting)", in.Pending)
		}
	}
	return h
}

// OfflineReason is the sentence for a workstation whose link dropped at
// since: "Offline since 03:19 — unsent work unknown (last reported: 2
// waiting)". A day other than now's adds the date ("26 Feb 03:19").
func OfflineReason(since, now time.Time, pending int64, loc *time.Location) string {
	if loc == nil {
		loc = time.Local
	}
	s, n := since.In(loc), now.In(loc)
	at := s.Format("15:04")
	if s.YearDay() != n.YearDay() || s.Year() != n.Year() {
		at = s.Format("2 Jan 15:04")
	}
	return fmt.Sprintf("Offline since %s — unsent work unknown (last reported: %d waiting)", at, pending)
}

// humanDuration renders 42 s, 7 min, 3 h 05 min, 2 d 4 h.
func humanDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + " s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + " min"
	case d < 48*time.Hour:
		m := int(d/time.Minute) % 60
		return strconv.Itoa(int(d/time.Hour)) + " h " + twoDigits(m) + " min"
	default:
		return strconv.Itoa(int(d/(24*time.Hour))) + " d " + strconv.Itoa(int(d/time.Hour)%24) + " h"
	}
}

func twoDigits(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

type syncStatusJSON struct {
	ServerTime time.Time          `json:"serverTime"`
	Feed       feedJSON           `json:"feed"`
	Instance   instanceJSON       `json:"instance"`
	Thresholds thresholdsJSON     `json:"thresholds"`
	Totals     totalsJSON         `json:"totals"`
	Devices    []deviceStatusJSON `json:"devices"`
}

type feedJSON struct {
	Head      int64 `json:"head"`
	PrunedID  int64 `json:"prunedId"`
	Retained  int64 `json:"retained"`
	CountsCap int64 `json:"countsCap"`
}

type instanceJSON struct {
	ConnectedDevices int `json:"connectedDevices"`
	Connections      int `json:"connections"`
	// Version and Commit are this server's build (the dashboard's footer);
	// MinWorkstationVersion the release it requires, "" for none.
	Version               string `json:"version"`
	Commit                string `json:"commit"`
	MinWorkstationVersion string `json:"minWorkstationVersion,omitempty"`
}

// thresholdsJSON: amber is "Late", red "Stalled".
type thresholdsJSON struct {
	OnlineSeconds       int `json:"onlineSeconds"`
	AmberUnseenSeconds  int `json:"amberUnseenSeconds"`
	AmberPendingSeconds int `json:"amberPendingSeconds"`
	RedSeconds          int `json:"redSeconds"`
	// Source: "flags" (the server's) or "dashboard" (an administrator's).
	Source string `json:"source"`
}

type totalsJSON struct {
	Devices            int   `json:"devices"`
	Online             int   `json:"online"`
	OK                 int   `json:"ok"`
	Offline            int   `json:"offline"`
	Amber              int   `json:"amber"`
	Red                int   `json:"red"`
	PendingUploads     int64 `json:"pendingUploads"`
	UnresolvedRejected int64 `json:"unresolvedRejected"`
	// Deferred counts acts parked until their predecessor lands.
	Deferred int64 `json:"deferred"`
	// ChainBreaks counts acts refused CHAIN_BROKEN (docs/provenance.md).
	ChainBreaks int64 `json:"chainBreaks"`
}

type deviceStatusJSON struct {
	deviceJSON
	Online                  bool          `json:"online"`
	Connected               bool          `json:"connected"`
	LastSeen                *time.Time    `json:"lastSeen"`
	CursorLag               int64         `json:"cursorLag"`
	CursorLagCapped         bool          `json:"cursorLagCapped"`
	InitialSync             bool          `json:"initialSync"`
	Pending                 int64         `json:"pending"`
	OldestPendingAt         *time.Time    `json:"oldestPendingAt"`
	OldestPendingAgeSeconds *int64        `json:"oldestPendingAgeSeconds"`
	LastMutationSeq         int64         `json:"lastMutationSeq"`
	Mutations               mutationsJSON `json:"mutations"`
	LastError               string        `json:"lastError,omitempty"`
	LastErrorAt             *time.Time    `json:"lastErrorAt,omitempty"`
	// ClientVersion is the release the workstation last said it runs.
	ClientVersion string `json:"clientVersion"`
	// DisconnectedAt: its last socket ended then (none welcomed since).
	DisconnectedAt *time.Time `json:"disconnectedAt"`
	// ConnectedAt: its latest socket opened (or was welcomed) then;
	// QueueReportedAt: Pending was reported then. Older than ConnectedAt:
	// the queue is being checked.
	ConnectedAt     *time.Time `json:"connectedAt"`
	QueueReportedAt *time.Time `json:"queueReportedAt"`
	// OfflineSince: when an offline workstation was last known connected.
	OfflineSince *time.Time `json:"offlineSince"`
	Status       string     `json:"status"`
	StatusReason string     `json:"statusReason"`
	// Deferred counts the device's acts parked until their predecessor
	// lands (docs/deferred.md).
	Deferred int64 `json:"deferred"`
}

type mutationsJSON struct {
	AppliedLastHour    int64 `json:"appliedLastHour"`
	RejectedLastHour   int64 `json:"rejectedLastHour"`
	AppliedTotal       int64 `json:"appliedTotal"`
	RejectedTotal      int64 `json:"rejectedTotal"`
	UnresolvedRejected int64 `json:"unresolvedRejected"`
	ChainBreaks        int64 `json:"chainBreaks"`
}

// syncStatus builds the status document as of the database clock.
func (s *Server) syncStatus(r *http.Request) (*syncStatusJSON, error) {
	s.touchPresence(r.Context())
	// Sockets are counted before the rows are read: a socket's opening is
	// recorded before it counts (handleSync), so every one counted here
	// has its row say that its queue is being checked. The other way
	// round, one opened in between counted with no record of it, and
	// read "in sync".
	conns := map[string]int{}
	for _, c := range s.hub.snapshot() {
		conns[c.deviceID]++
	}
	feed, devs, err := s.DB.SyncHealth(r.Context())
	if err != nil {
		return nil, err
	}
	th, source, err := s.healthThresholds(r.Context())
	if err != nil {
		return nil, err
	}
	now := s.DB.Now().UTC()
	out := &syncStatusJSON{
		ServerTime: now,
		Feed:       feedJSON{feed.Head, feed.PrunedID, feed.Retained, postgres.LagCountCap},
		Instance:   s.instance(len(conns)),
		Thresholds: thresholdsJSON{int(OnlineWindow / time.Second), int(th.LateUnseen / time.Second), int(th.LatePending / time.Second), int(th.Stalled / time.Second), source},
		Devices:    make([]deviceStatusJSON, 0, len(devs)),
	}
	for _, d := range devs {
		h := deviceHealth(now, d, conns[d.ID] > 0, th)
		js := deviceStatusJSON{
			deviceJSON: toDeviceJSON(d), Online: h.Online, Connected: conns[d.ID] > 0,
			LastSeen: d.LastSeen, CursorLag: d.CursorLag, CursorLagCapped: d.CursorLag >= postgres.LagCountCap,
			InitialSync: !d.FeedCursor, Pending: d.Pending, LastMutationSeq: d.LastMutationSeq,
			Mutations: mutationsJSON{d.AppliedLastHour, d.RejectedLastHour, d.AppliedTotal, d.RejectedTotal, d.UnresolvedRejected, d.ChainBreaks},
			LastError: d.LastError, LastErrorAt: d.LastErrorAt, ClientVersion: d.ClientVersion, Status: h.Class, StatusReason: h.Reason,
			DisconnectedAt: d.DisconnectedAt, ConnectedAt: d.ConnectedAt, QueueReportedAt: d.QueueReportedAt, OfflineSince: h.OfflineSince,
		}
		if d.Pending > 0 && d.OldestPendingAt != nil {
			js.OldestPendingAt = d.OldestPendingAt
			age := int64(max(now.Sub(*d.OldestPendingAt), 0) / time.Second)
			js.OldestPendingAgeSeconds = &age
		}
		out.Devices = append(out.Devices, js)
		if d.RevokedAt != nil {
			continue
		}
		out.Totals.Devices++
		if h.Online {
			out.Totals.Online++
		}
		switch h.Class {
		case HealthOK:
			out.Totals.OK++
		case HealthOffline:
			out.Totals.Offline++
		case HealthAmber:
			out.Totals.Amber++
		case HealthRed:
			out.Totals.Red++
		}
		out.Totals.PendingUploads += d.Pending
		out.Totals.UnresolvedRejected += d.UnresolvedRejected
		out.Totals.ChainBreaks += d.ChainBreaks
	}
	if err := s.addDeferred(r.Context(), out); err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Server) instance(connectedDevices int) instanceJSON {
	in := instanceJSON{ConnectedDevices: connectedDevices, Connections: s.hub.count(),
		Version: version.Version, Commit: version.CommitOrVCS()}
	if v := s.minWorkstation.Load(); v != nil {
		in.MinWorkstationVersion = v.String()
	}
	return in
}

// deviceHealth classifies one workstation as the status and /metrics both
// report it.
func deviceHealth(now time.Time, d postgres.DeviceHealth, connected bool, th Thresholds) Health {
	return Classify(now, HealthInput{Revoked: d.RevokedAt != nil, Connected: connected, LastSeen: d.LastSeen,
		DisconnectedAt: d.DisconnectedAt, Pending: d.Pending, OldestPendingAt: d.OldestPendingAt,
		ConnectedAt: d.ConnectedAt, QueueReportedAt: d.QueueReportedAt}, th, time.Local)
}

// handleSyncStatus answers GET /api/v1/sync/status for an ADMIN dashboard
// session or the monitoring token.
func (s *Server) handleSyncStatus(w http.ResponseWriter, r *http.Request) {
	if tok := bearer(r); !s.isMonitoringToken(tok) {
		if _, ok := s.requireAdmin(w, r, tok); !ok {
			return
		}
	}
	st, err := s.syncStatus(r)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}
