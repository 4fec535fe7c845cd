package http

import (
	"net/http"
	"time"

	"wardsync/server/postgres"
	"wardsync/workflow"
)

// The workflow board: counts per status, today's queues with the item
// waiting longest, and per status the acts that moved items into it, hour by
// hour (from the audit log, by the time the act happened at the ward).
// Which acts lead to which status, and which queues there are, is
// workflow's rule table; this file only presents it.

type boardJSON struct {
	Day           string            `json:"day"`
	TimeZone      string            `json:"timeZone"`
	DayStart      time.Time         `json:"dayStart"`
	Hours         int               `json:"hours"`
	Now           time.Time         `json:"now"`
	Appointments  []boardStatusJSON `json:"appointments"`
	Prescriptions []boardStatusJSON `json:"prescriptions"`
	Queues        []boardQueueJSON  `json:"queues"`
}

type boardStatusJSON struct {
	Status string `json:"status"`
	Total  int64  `json:"total"`
	// Today: appointments dated today (prescriptions have no date: Total).
	Today int64 `json:"today"`
	// EnteredByHour counts the acts that moved an item into this status,
	// per hour of the day.
	EnteredByHour []int64 `json:"enteredByHour"`
}

type boardQueueJSON struct {
	Key        string          `json:"key"`
	Label      string          `json:"label"`
	Table      string          `json:"table"`
	Status     string          `json:"status"`
	NextAct    string          `json:"nextAct"`
	WaitingFor []workflow.Role `json:"waitingFor"`
	Count      int64           `json:"count"`
	Oldest     *boardOldest    `json:"oldest"`
}

type boardOldest struct {
	ID             string     `json:"id"`
	Since          *time.Time `json:"since"`
	WaitingSeconds int64      `json:"waitingSeconds"`
	Patient        string     `json:"patient"`
}

// boardDay resolves the day shown: ?date=YYYY-MM-DD (default today) in the
// ?tz= IANA zone (default the server's zone; the dashboard sends the
// browser's). Day boundaries follow the zone's calendar, so a day may have
// 23 or 25 hours.
func boardDay(r *http.Request, now time.Time) (time.Time, time.Time, *time.Location, error) {
	loc := time.Local
	if tz := r.URL.Query().Get("tz"); tz != "" {
		l, err := time.LoadLocation(tz)
		if err != nil {
			return time.Time{}, time.Time{}, nil, &workflow.Rejection{Code: workflow.CodeValidationFailed, Field: "tz", Message: "tz must be an IANA time zone such as Europe/Paris."}
		}
		loc = l
	}
	y, m, d := now.In(loc).Date()
	if v := r.URL.Query().Get("date"); v != "" {
		t, err := time.ParseInLocation("2006-01-02", v, loc)
		if err != nil {
			return time.Time{}, time.Time{}, nil, &workflow.Rejection{Code: workflow.CodeValidationFailed, Field: "date", Message: "date must be a day such as 2025-01-02."}
		}
		y, m, d = t.Date()
	}
	start := time.Date(y, m, d, 0, 0, 0, 0, loc)
	return start, time.Date(y, m, d+1, 0, 0, 0, 0, loc), loc, nil
}

func (s *Server) handleBoard(w http.ResponseWriter, r *http.Request, _ *postgres.Session) {
	now := s.DB.Now().UTC()
	start, end, loc, err := boardDay(r, now)
	if err != nil {
		writeError(w, err)
		return
	}
	b, err := s.DB.Board(r.Context(), start, end)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, buildBoard(b, start, end, loc, now))
}

func buildBoard(b *postgres.BoardData, start, end time.Time, loc *time.Location, now time.Time) boardJSON {
	hours := int(end.Sub(start) / time.Hour)
	out := boardJSON{Day: start.Format("2006-01-02"), TimeZone: loc.String(), DayStart: start.UTC(), Hours: hours, Now: now}
	entered := map[string][]int64{}
	for name, byHour := range b.ActsByHour {
		table, status, ok := workflow.LeadsTo(name)
		if !ok {
			continue
		}
		k := table + "/" + status
		if entered[k] == nil {
			entered[k] = make([]int64, hours)
		}
		for h, n := range byHour {
			if h < hours {
				entered[k][h] += n
			}
		}
	}
	row := func(table, status string, counts []postgres.StatusCount) boardStatusJSON {
		js := boardStatusJSON{Status: status, EnteredByHour: entered[table+"/"+status]}
		if js.EnteredByHour == nil {
			js.EnteredByHour = make([]int64, hours)
		}
		for _, c := range counts {
			if c.Status == status {
				js.Total, js.Today = c.Total, c.Today
			}
		}
		return js
	}
	for _, st := range workflow.AppointmentStatuses {
		out.Appointments = append(out.Appointments, row(workflow.TableAppointments, string(st), b.Appointments))
	}
	for _, st := range workflow.PrescriptionStatuses {
		out.Prescriptions = append(out.Prescriptions, row(workflow.TablePrescriptions, string(st), b.Prescriptions))
	}
	for _, q := range workflow.BoardQueues() {
		js := boardQueueJSON{Key: q.Table + "/" + q.Status, Label: q.Label, Table: q.Table, Status: q.Status,
			NextAct: q.Next, WaitingFor: workflow.AllowedRoles(q.Next)}
		for _, h := range b.Queues {
			if h.Table != q.Table || h.Status != q.Status {
				continue
			}
			js.Count = h.Count
			o := &boardOldest{ID: h.OldestID, Since: h.OldestSince, Patient: h.OldestPatient}
			if h.OldestSince != nil {
				o.WaitingSeconds = int64(max(now.Sub(*h.OldestSince), 0) / time.Second)
			}
			js.Oldest = o
		}
		out.Queues = append(out.Queues, js)
	}
	return out
}
