//go:generate go run ../internal/genrules -out ../frontend/src/desktop/rules.json

package workflow

// The rule table, read whole. Each act (register) says who may do it, the
// statuses it requires (its path) and the status it leads to (to). Every
// other view of the workflow is derived from it here: the next acts of a
// row for a role (the buttons of the UI), the queues of each role's home
// screen, and the dashboard board. Adapters turn a Queue into SQL; they do
// not decide which statuses a queue holds.

// Transition is one act's row of the rule table, as the UI and the
// generated frontend rules read it.
type Transition struct {
	Act   string `json:"act"`
	Roles []Role `json:"roles"`
	// Table is the table whose status counts (prescriptions for the
	// result acts, which move their prescription).
	Table string `json:"table"`
	// From lists the statuses the act applies in; empty for an act that
	// creates its row.
	From []string `json:"from"`
	// Waits lists the earlier statuses in which the act waits for its
	// predecessor instead of being refused (docs/deferred.md).
	Waits []string `json:"waits"`
	// To is the status the act leaves the row in; empty when it moves no
	// status (appointment.recordPayment moves the bill only).
	To string `json:"to"`
}

// statusTable is the table whose status the act requires or moves.
func (a *act) statusTable() string {
	if a.path != nil {
		return a.path.table
	}
	return a.table
}

// Transitions lists, in declaration order, every act that requires or
// moves a status; acts on patients and documents have none.
func Transitions() []Transition {
	var out []Transition
	for _, a := range declared {
		if a.path == nil && a.to == "" {
			continue
		}
		t := Transition{Act: a.name, Roles: append([]Role(nil), a.roles...), Table: a.statusTable(), To: a.to,
			From: []string{}, Waits: []string{}}
		if a.path != nil {
			t.From = append(t.From, a.path.want...)
			t.Waits = append(t.Waits, a.path.waits...)
		}
		out = append(out, t)
	}
	return out
}

// ActInfo is one act of the table as the UI lists it: who may do it, the
// table of the row it creates or changes, and whether it creates that row.
type ActInfo struct {
	Act     string `json:"act"`
	Roles   []Role `json:"roles"`
	Table   string `json:"table"`
	Creates bool   `json:"creates"`
	// Online: done from the admin dashboard only, never on a workstation.
	Online bool `json:"online"`
}

// Acts lists every act in declaration order (the order of a row's
// buttons).
func Acts() []ActInfo {
	out := make([]ActInfo, 0, len(declared))
	for _, a := range declared {
		out = append(out, ActInfo{Act: a.name, Roles: append([]Role(nil), a.roles...), Table: a.table, Creates: a.creates, Online: a.online})
	}
	return out
}

// Creates tells whether the named act inserts its own row, whose id its
// "id" argument names; false for an unknown act.
func Creates(name string) bool {
	a := acts[name]
	return a != nil && a.creates
}

// LeadsTo names the status the named act leaves its row in, and the table
// of that row; ok is false for an act that moves no status.
func LeadsTo(name string) (table, status string, ok bool) {
	a := acts[name]
	if a == nil || a.to == "" {
		return "", "", false
	}
	return a.statusTable(), a.to, true
}

// NextActs lists, in declaration order, the acts role may perform on a row
// of table that stands in status: those whose path applies there. Acts
// without a path (creating a row, patient and document acts) are not
// listed: they do not depend on a row's status.
func NextActs(table, status string, role Role) []string {
	var out []string
	for _, a := range declared {
		if a.path != nil && a.path.table == table && contains(a.path.want, status) && contains(a.roles, role) {
			out = append(out, a.name)
		}
	}
	return out
}

// Queue is one list of rows waiting for an act: the rows of Table in
// Status, read oldest first by Since, that Next takes out. Next's roles
// are who the rows wait for.
type Queue struct {
	// Key names the queue: the home screen's list (its JSON field) and
	// the board's row.
	Key   string `json:"key"`
	Label string `json:"label"`
	Table string `json:"table"`
	// Status is the status the rows stand in.
	Status string `json:"status"`
	// Next is the act that takes a row out of the queue.
	Next string `json:"next"`
	// Since is the column holding when a row entered Status (for a
	// SCHEDULED appointment, its date).
	Since string `json:"since"`
	// Home: the queue is on the home screen of Next's roles. Board: it is
	// a row of the dashboard board, which shows one day of the ward.
	Home  bool `json:"home"`
	Board bool `json:"board"`
	// Today: the home screen shows only appointments dated today.
	Today bool `json:"today,omitempty"`
	// Own names the column holding the user whose home screen shows the
	// row ("doctorId": a doctor sees their own patients); empty when
	// everyone of Next's roles sees every row.
	Own string `json:"own,omitempty"`
	// Unpaid keeps only appointments whose bill is not PAID.
	Unpaid bool `json:"unpaid,omitempty"`
	// Ahead: the rows are one step early, Next would wait in Status for
	// its predecessor (a nurse may take vitals before the check-in arrives
	// from reception, docs/deferred.md); rows for which Next is already
	// waiting are left out.
	Ahead bool `json:"ahead,omitempty"`
}

// queues is the queue table, in the order a ward works through a visit
// and then a prescription; a home screen lists its queues in this order.
var queues = []Queue{
	{Key: "toCheckIn", Label: "Awaiting check-in", Table: TableAppointments, Status: string(AppointmentScheduled),
		Next: "appointment.checkIn", Since: "date", Home: true, Board: true, Today: true},
	{Key: "toPrepare", Label: "Awaiting vitals", Table: TableAppointments, Status: string(AppointmentCheckedIn),
		Next: "appointment.recordVitals", Since: "checkedInAt", Home: true, Board: true},
	{Key: "expected", Label: "Expected, not yet checked in", Table: TableAppointments, Status: string(AppointmentScheduled),
		Next: "appointment.recordVitals", Since: "date", Home: true, Today: true, Ahead: true},
	{Key: "consultations", Label: "Awaiting the doctor", Table: TableAppointments, Status: string(AppointmentInConsultation),
		Next: "appointment.completeConsultation", Since: "vitalsEnteredAt", Home: true, Board: true, Own: "doctorId"},
	{Key: "toClose", Label: "Awaiting closing and billing", Table: TableAppointments, Status: string(AppointmentConsultationCompleted),
		Next: "appointment.close", Since: "consultedAt", Home: true, Board: true},
	{Key: "unpaid", Label: "Awaiting payment", Table: TableAppointments, Status: string(AppointmentCompleted),
		Next: "appointment.recordPayment", Since: "closedAt", Home: true, Board: true, Unpaid: true},
	{Key: "toSend", Label: "Awaiting dispatch to the lab", Table: TablePrescriptions, Status: string(PrescriptionCreated),
		Next: "prescription.sendToLab", Since: "createdAt", Board: true},
	// sendToLab is the only act on a SENT_TO_LAB prescription, so
	// updatedAt is when it was sent.
	{Key: "toCollect", Label: "Awaiting sample", Table: TablePrescriptions, Status: string(PrescriptionSentToLab),
		Next: "prescription.collectSample", Since: "updatedAt", Home: true, Board: true},
	{Key: "samplesReceived", Label: "Awaiting analysis", Table: TablePrescriptions, Status: string(PrescriptionSampleCollected),
		Next: "prescription.startAnalysis", Since: "sampleCollectedAt", Home: true, Board: true},
	{Key: "inProgress", Label: "Analysis in progress", Table: TablePrescriptions, Status: string(PrescriptionInProgress),
		Next: "result.create", Since: "analysisStartedAt", Home: true, Board: true},
	{Key: "toReview", Label: "Awaiting review", Table: TablePrescriptions, Status: string(PrescriptionResultsAvailable),
		Next: "result.review", Since: "analysisCompletedAt", Home: true, Board: true, Own: "doctorId"},
}

// Queues lists every queue, in the table's order.
func Queues() []Queue { return append([]Queue(nil), queues...) }

// HomeQueues lists the queues of role's home screen, in the table's
// order: those whose next act role performs. An administrator's home
// screen is reception's, whose work ADMIN covers at the front desk.
func HomeQueues(role Role) []Queue {
	if role == RoleAdmin {
		role = RoleSecretary
	}
	var out []Queue
	for _, q := range queues {
		if q.Home && contains(acts[q.Next].roles, role) {
			out = append(out, q)
		}
	}
	return out
}

// BoardQueues lists the dashboard board's queues, in the table's order:
// one per status that waits for an act.
func BoardQueues() []Queue {
	var out []Queue
	for _, q := range queues {
		if q.Board {
			out = append(out, q)
		}
	}
	return out
}

// QueueStatuses lists the distinct statuses of table's board queues, in
// the table's order: the statuses in which a row still waits for someone.
func QueueStatuses(table string) []string {
	var out []string
	for _, q := range BoardQueues() {
		if q.Table == table && !contains(out, q.Status) {
			out = append(out, q.Status)
		}
	}
	return out
}
