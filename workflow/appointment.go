package workflow

import "time"

// Text limits of the seed ("Text Fields") and of the act table, in characters.
const (
	MaxNameLength          = 200    // patient first and last name
	MaxMotifLength         = 500    // appointments.motif
	MaxNotesLength         = 10_000 // medicalHistoryNotes, consultationNotes, interpretation, prescription text
	MaxResultTextLength    = 50_000 // results.text
	MaxDocumentFieldLength = 200    // documents.name and documents.type
	MaxDocumentURLLength   = 2_000  // documents.url
)

// ScheduleYears bounds an appointment's date around the act: appointments
// may be entered after the fact (an outage) or far ahead, but ten years
// either way is a typing error in the year.
const ScheduleYears = 10

func init() {
	register(&act{
		name:    "appointment.schedule",
		creates: true,
		to:      string(AppointmentScheduled),
		roles:   frontDesk,
		does:    "schedule an appointment",
		table:   TableAppointments,
		args:    []string{"id", "patientId", "doctorId", "date", "motif"},
		run:     scheduleAppointment,
	})
	register(&act{
		name:  "appointment.checkIn",
		to:    string(AppointmentCheckedIn),
		roles: []Role{RoleSecretary},
		does:  "check in an appointment",
		table: TableAppointments,
		args:  []string{"id"},
		run:   checkIn,
		path: apptPath(want(AppointmentScheduled), nil, "",
			never(AppointmentCheckedIn, AppointmentInConsultation, AppointmentConsultationCompleted, AppointmentCompleted, AppointmentCancelled)),
	})
	register(&act{
		name:  "appointment.recordVitals",
		to:    string(AppointmentInConsultation),
		roles: []Role{RoleNurse},
		does:  "record vitals",
		table: TableAppointments,
		args:  []string{"id", "vitals", "medicalHistoryNotes"},
		run:   recordVitals,
		path: apptPath(want(AppointmentCheckedIn), want(AppointmentScheduled), "check-in at reception",
			never(AppointmentInConsultation, AppointmentConsultationCompleted, AppointmentCompleted, AppointmentCancelled)),
	})
	register(&act{
		name:  "appointment.completeConsultation",
		to:    string(AppointmentConsultationCompleted),
		roles: []Role{RoleDoctor},
		does:  "complete a consultation",
		table: TableAppointments,
		args:  []string{"id", "consultationNotes"},
		run:   completeConsultation,
		path: apptPath(want(AppointmentInConsultation), want(AppointmentScheduled, AppointmentCheckedIn), "the vitals from the nurse",
			never(AppointmentConsultationCompleted, AppointmentCompleted, AppointmentCancelled)),
	})
	register(&act{
		name:  "appointment.close",
		to:    string(AppointmentCompleted),
		roles: []Role{RoleSecretary},
		does:  "close and bill an appointment",
		table: TableAppointments,
		args:  []string{"id", "billingAmount", "billingStatus"},
		run:   closeAppointment,
		path: apptPath(want(AppointmentConsultationCompleted), want(AppointmentScheduled, AppointmentCheckedIn, AppointmentInConsultation),
			"the doctor to complete the consultation", never(AppointmentCompleted, AppointmentCancelled)),
	})
	register(&act{
		name:  "appointment.recordPayment",
		roles: []Role{RoleSecretary},
		does:  "record a payment",
		table: TableAppointments,
		args:  []string{"id", "billingStatus"},
		run:   recordPayment,
		path: apptPath(want(AppointmentCompleted), want(AppointmentScheduled, AppointmentCheckedIn, AppointmentInConsultation, AppointmentConsultationCompleted),
			"the appointment to be closed and billed at reception", never(AppointmentCancelled)),
	})
	register(&act{
		name:  "appointment.cancel",
		to:    string(AppointmentCancelled),
		roles: frontDesk,
		does:  "cancel an appointment",
		table: TableAppointments,
		args:  []string{"id"},
		run:   cancelAppointment,
		path: apptPath(want(AppointmentScheduled, AppointmentCheckedIn), nil, "",
			never(AppointmentInConsultation, AppointmentConsultationCompleted, AppointmentCompleted, AppointmentCancelled)),
	})
}

// want and never list appointment states in a path declaration; they are
// one function under two names so that the table reads as the rule does.
func want(s ...AppointmentStatus) []AppointmentStatus  { return s }
func never(s ...AppointmentStatus) []AppointmentStatus { return s }

func apptPath(want, waits []AppointmentStatus, sentence string, never []AppointmentStatus) *path {
	return &path{table: TableAppointments, want: strs(want), waits: strs(waits), sentence: sentence, never: strs(never)}
}

func strs[T ~string](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}

func scheduleAppointment(e *env, o *obj) (Effect, error) {
	id := o.id("id", "The appointment id")
	patientID := o.id("patientId", "The patient id")
	doctorID := o.id("doctorId", "The doctor id")
	date, _ := o.timestamp("date", "Appointment date", true)
	motif, _ := o.textOf("motif", "motif", true)
	if o.err == nil {
		if date.Before(e.at.AddDate(-ScheduleYears, 0, 0)) || date.After(e.at.AddDate(ScheduleYears, 0, 0)) {
			o.fail(invalid("date", "Appointment date %s is more than %d years away from the time of the act (%s).",
				date.Format("2006-01-02 15:04"), ScheduleYears, e.at.Format(time.DateOnly)))
		}
	}
	if o.err != nil {
		return Effect{}, o.err
	}
	if err := newOfPatient(e, e.r.Appointment, "appointment", id, patientID); err != nil {
		return Effect{}, err
	}
	doc, err := e.r.User(e.ctx, doctorID)
	switch {
	case (err == nil && doc == nil) || isNotFound(err):
		return Effect{}, invalid("doctorId", "No user with id %s exists; choose the doctor from the list.", doctorID)
	case err != nil:
		return Effect{}, wrapRead("user", doctorID, err)
	case doc.Role != RoleDoctor:
		return Effect{}, invalid("doctorId", "%s (user %s) is %s %s, not a DOCTOR; an appointment is with a doctor.", doc.Name, doctorID, article(string(doc.Role)), doc.Role)
	}
	return effect(e.insert(TableAppointments, id, map[string]any{
		"date":      date,
		"motif":     motif,
		"status":    string(AppointmentScheduled),
		"patientId": patientID,
		"doctorId":  doctorID,
		// The column's default, written out so both sides hold the same row.
		"billingStatus": string(BillingPending),
	})), nil
}

// appointmentIn loads the appointment named by the "id" argument and checks
// it is in one of the wanted states.
func appointmentIn(e *env, id string, want ...AppointmentStatus) (*Appointment, error) {
	a, err := load(e, e.r.Appointment, "appointment", id, "id")
	if err != nil {
		return nil, err
	}
	if !contains(want, a.Status) {
		return nil, e.appointmentNotIn(a, want...)
	}
	return a, nil
}

// moveAppointment ends an act on an appointment once its arguments are
// read into o: the appointment must be in one of the statuses from, and
// values are the columns the act sets.
func moveAppointment(e *env, o *obj, id string, values map[string]any, from ...AppointmentStatus) (Effect, error) {
	if o.err != nil {
		return Effect{}, o.err
	}
	if _, err := appointmentIn(e, id, from...); err != nil {
		return Effect{}, err
	}
	return effect(e.update(TableAppointments, id, values)), nil
}

func checkIn(e *env, o *obj) (Effect, error) {
	id := o.id("id", "The appointment id")
	return moveAppointment(e, o, id, map[string]any{
		"status":      string(AppointmentCheckedIn),
		"checkedInAt": e.at,
	}, AppointmentScheduled)
}

func recordVitals(e *env, o *obj) (Effect, error) {
	id := o.id("id", "The appointment id")
	vitals := readVitals(o)
	notes, notesP := o.textOf("medicalHistoryNotes", "medicalHistoryNotes", false)
	values := map[string]any{
		"status":          string(AppointmentInConsultation),
		"vitals":          vitals,
		"vitalsEnteredAt": e.at,
		"vitalsEnteredBy": e.actor.ID,
	}
	switch notesP {
	case given:
		values["medicalHistoryNotes"] = notes
	case null:
		values["medicalHistoryNotes"] = nil
	}
	return moveAppointment(e, o, id, values, AppointmentCheckedIn)
}

func completeConsultation(e *env, o *obj) (Effect, error) {
	id := o.id("id", "The appointment id")
	notes, _ := o.textOf("consultationNotes", "consultationNotes", true)
	return moveAppointment(e, o, id, map[string]any{
		"status":            string(AppointmentConsultationCompleted),
		"consultationNotes": notes,
		"consultedAt":       e.at,
		"consultedBy":       e.actor.ID,
	}, AppointmentInConsultation)
}

// billingStatusArg reads and checks a BillingStatus argument.
func billingStatusArg(o *obj) BillingStatus {
	s, p := o.str("billingStatus", "Billing status", true)
	if p != given {
		return ""
	}
	b := BillingStatus(s)
	if !b.Valid() {
		o.fail(invalid("billingStatus", "Billing status %s is not one of %s.", quote(s), orList(strs(BillingStatuses))))
		return ""
	}
	return b
}

func closeAppointment(e *env, o *obj) (Effect, error) {
	id := o.id("id", "The appointment id")
	var amount Decimal
	if s, p := o.strWant("billingAmount", "Billing amount", `text such as "120.50"`, true); p == given {
		cents, problem := parseCents(s)
		if problem != amountOK {
			o.fail(amountRejection("billingAmount", "Billing amount", s, problem))
		}
		amount = centsToDecimal(cents)
	}
	status := billingStatusArg(o)
	return moveAppointment(e, o, id, map[string]any{
		"status":        string(AppointmentCompleted),
		"billingAmount": amount,
		"billingStatus": string(status),
		"closedAt":      e.at,
		"closedBy":      e.actor.ID,
	}, AppointmentConsultationCompleted)
}

func recordPayment(e *env, o *obj) (Effect, error) {
	id := o.id("id", "The appointment id")
	target := billingStatusArg(o)
	if o.err != nil {
		return Effect{}, o.err
	}
	a, err := appointmentIn(e, id, AppointmentCompleted)
	if err != nil {
		return Effect{}, err
	}
	// A bill closed before the seed's default existed has no status; the
	// column default says what it means.
	current := BillingPending
	if a.BillingStatus != nil {
		current = *a.BillingStatus
	}
	if current == BillingPaid {
		return Effect{}, Reject(CodeInvalidTransition, "The bill of appointment %s is already PAID; no further payment can be recorded.", id)
	}
	// Forward only; a second partial payment keeps PARTIALLY_PAID.
	if target == BillingPending || billingRank(target) < billingRank(current) {
		return Effect{}, Reject(CodeInvalidTransition, "The bill of appointment %s is %s; a payment can only move it to %s or %s, not %s.",
			id, current, BillingPartiallyPaid, BillingPaid, target)
	}
	return effect(e.update(TableAppointments, id, map[string]any{
		"billingStatus": string(target),
	})), nil
}

func cancelAppointment(e *env, o *obj) (Effect, error) {
	id := o.id("id", "The appointment id")
	return moveAppointment(e, o, id, map[string]any{
		"status": string(AppointmentCancelled),
	}, AppointmentScheduled, AppointmentCheckedIn)
}
