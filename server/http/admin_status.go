package http

import (
	"net/http"
	"strconv"
	"time"

	"wardsync/server/postgres"
	"wardsync/version"
	"wardsync/workflow"
)

// Workstation health thresholds. The dashboard's status-colour logic
// (frontend/src/admin/status.ts) applies the same rule; both are tested
// against the same cases (frontend/src/admin/status-cases.json).
const (
	// OnlineWindow: a device seen this recently counts as online even when
	// it is connected to another instance.
	OnlineWindow = time.Minute
	// AmberUnseen and AmberPending: not seen for this long, or an act
	// queued on the workstation for this long, turns the row amber.
	AmberUnseen  = 5 * time.Minute
	AmberPending = 15 * time.Minute
	// RedAfter: either of them past an hour turns it red.
	RedAfter = time.Hour
)

// Health classes of a workstation row.
const (
	HealthOK      = "ok"
	HealthAmber   = "amber"
	HealthRed     = "red"
	HealthNew     = "new"     // registered, never connected
	HealthRevoked = "revoked" // can no longer synchronise
)

// HealthInput is what the colour of a workstation depends on.
type HealthInput struct {
	Revoked         bool
	Connected       bool // has a websocket on this instance
	LastSeen        *time.Time
	Pending         int64
	OldestPendingAt *time.Time
}

// Health is a workstation's class with the reason a person reads, and
// whether it counts as online.
type Health struct {
	Class  string
	Reason string
	Online bool
}

// Classify applies the dashboard's rule at now: amber when the device has
// not been seen for 5 minutes or its oldest pending act is older than 15
// minutes, red when either passes an hour. Thresholds are inclusive.
func Classify(now time.Time, in HealthInput) Health {
	var h Health
	unseen := time.Duration(0)
	switch {
	case in.Connected:
	case in.LastSeen != nil:
		unseen = max(now.Sub(*in.LastSeen), 0)
	}
	if in.Revoked {
		h.Class, h.Reason = HealthRevoked, "revoked"
		return h
	}
	h.Online = in.Connected || (in.LastSeen != nil && unseen <= OnlineWindow)
	if !in.Connected && in.LastSeen == nil {
		h.Class, h.Reason = HealthNew, "never connected"
		return h
	}
	waiting := time.Duration(0)
	if in.Pending > 0 && in.OldestPendingAt != nil {
		waiting = max(now.Sub(*in.OldestPendingAt), 0)
	}
	unseenWhy := "not seen for " + humanDuration(unseen)
	pendingWhy := "oldest pending act waiting " + humanDuration(waiting)
	switch {
	case unseen >= RedAfter:
		h.Class, h.Reason = HealthRed, unseenWhy
	case waiting >= RedAfter:
		h.Class, h.Reason = HealthRed, pendingWhy
	case unseen >= AmberUnseen:
		h.Class, h.Reason = HealthAmber, unseenWhy
	case waiting >= AmberPending:
		h.Class, h.Reason = HealthAmber, pendingWhy
	default:
		h.Class, h.Reason = HealthOK, "in sync"
		if in.Pending > 0 {
			h.Reason = strconv.FormatInt(in.Pending, 10) + " pending"
		}
	}
	return h
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

type thresholdsJSON struct {
	OnlineSeconds       int `json:"onlineSeconds"`
	AmberUnseenSeconds  int `json:"amberUnseenSeconds"`
	AmberPendingSeconds int `json:"amberPendingSeconds"`
	RedSeconds          int `json:"redSeconds"`
}

type totalsJSON struct {
	Devices            int   `json:"devices"`
	Online             int   `json:"online"`
	OK                 int   `json:"ok"`
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
	ID                      string          `json:"id"`
	Name                    string          `json:"name"`
	Roles                   []workflow.Role `json:"roles"`
	CreatedAt               time.Time       `json:"createdAt"`
	Revoked                 bool            `json:"revoked"`
	RevokedAt               *time.Time      `json:"revokedAt,omitempty"`
	RegistrationPending     bool            `json:"registrationPending"`
	Online                  bool            `json:"online"`
	Connected               bool            `json:"connected"`
	LastSeen                *time.Time      `json:"lastSeen"`
	CursorLag               int64           `json:"cursorLag"`
	CursorLagCapped         bool            `json:"cursorLagCapped"`
	InitialSync             bool            `json:"initialSync"`
	Pending                 int64           `json:"pending"`
	OldestPendingAt         *time.Time      `json:"oldestPendingAt"`
	OldestPendingAgeSeconds *int64          `json:"oldestPendingAgeSeconds"`
	LastMutationSeq         int64           `json:"lastMutationSeq"`
	Mutations               mutationsJSON   `json:"mutations"`
	LastError               string          `json:"lastError,omitempty"`
	LastErrorAt             *time.Time      `json:"lastErrorAt,omitempty"`
	// ClientVersion is the release the workstation last said it runs.
	ClientVersion string `json:"clientVersion"`
	Status        string `json:"status"`
	StatusReason  string `json:"statusReason"`
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
	feed, devs, err := s.DB.SyncHealth(r.Context())
	if err != nil {
		return nil, err
	}
	now := s.DB.Now().UTC()
	conns := map[string]int{}
	for _, c := range s.hub.snapshot() {
		conns[c.deviceID]++
	}
	out := &syncStatusJSON{
		ServerTime: now,
		Feed:       feedJSON{feed.Head, feed.PrunedID, feed.Retained, postgres.LagCountCap},
		Instance:   s.instance(len(conns)),
		Thresholds: thresholdsJSON{int(OnlineWindow / time.Second), int(AmberUnseen / time.Second), int(AmberPending / time.Second), int(RedAfter / time.Second)},
		Devices:    make([]deviceStatusJSON, 0, len(devs)),
	}
	for _, d := range devs {
		h := Classify(now, HealthInput{Revoked: d.RevokedAt != nil, Connected: conns[d.ID] > 0, LastSeen: d.LastSeen,
			Pending: d.Pending, OldestPendingAt: d.OldestPendingAt})
		js := deviceStatusJSON{
			ID: d.ID, Name: d.Name, Roles: d.Roles, CreatedAt: d.CreatedAt, Revoked: d.RevokedAt != nil, RevokedAt: d.RevokedAt,
			RegistrationPending: d.RegistrationUntil != nil, Online: h.Online, Connected: conns[d.ID] > 0,
			LastSeen: d.LastSeen, CursorLag: d.CursorLag, CursorLagCapped: d.CursorLag >= postgres.LagCountCap,
			InitialSync: !d.FeedCursor, Pending: d.Pending, LastMutationSeq: d.LastMutationSeq,
			Mutations: mutationsJSON{d.AppliedLastHour, d.RejectedLastHour, d.AppliedTotal, d.RejectedTotal, d.UnresolvedRejected, d.ChainBreaks},
			LastError: d.LastError, LastErrorAt: d.LastErrorAt, ClientVersion: d.ClientVersion, Status: h.Class, StatusReason: h.Reason,
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
