package workflow

import (
	"strings"
	"time"
)

// The INVALID_TRANSITION sentence names the current state and, when the row
// tells, who moved it there and when: "Appointment 5c1… is IN_CONSULTATION
// (vitals entered by Infirmier Test at 10:42), not CHECKED_IN." A detail is
// used only if the actor's role may read the columns it comes from, so the
// workstation (which holds only those columns) and the server (which holds
// all of them) write the same sentence, and a refusal never reveals what
// the need-to-know filter hides.

// clock renders an instant as 15:04 UTC, adding the date when it is not the
// day of the act being refused.
func (e *env) clock(t time.Time) string {
	t = t.UTC()
	s := "at " + t.Format("15:04")
	if t.Format(time.DateOnly) != e.at.Format(time.DateOnly) {
		s += " on " + t.Format(time.DateOnly)
	}
	return s
}

// userName returns a user's name, or the id itself when the user is not
// known (a workstation that has not pulled the user yet, a deleted user).
func (e *env) userName(id string) (string, error) {
	u, err := e.r.User(e.ctx, id)
	if err == nil && u != nil && u.Name != "" {
		return u.Name, nil
	}
	if err == nil || isNotFound(err) {
		return id, nil
	}
	return "", wrapRead("user", id, err)
}

// byAt renders "<what> by <name> at <time>", dropping parts the actor may
// not read or the row does not have.
func (e *env) byAt(what, table, byCol string, by *string, atCol string, at *time.Time) (string, error) {
	parts := []string{what}
	if by != nil && *by != "" && canRead(e.actor.Role, table, byCol) {
		name, err := e.userName(*by)
		if err != nil {
			return "", err
		}
		parts = append(parts, "by "+name)
	}
	if at != nil && !at.IsZero() && canRead(e.actor.Role, table, atCol) {
		parts = append(parts, e.clock(*at))
	}
	if len(parts) == 1 {
		return "", nil
	}
	return strings.Join(parts, " "), nil
}

func (e *env) appointmentDetail(a *Appointment) (string, error) {
	switch a.Status {
	case AppointmentScheduled:
		if canRead(e.actor.Role, TableAppointments, "date") && !a.Date.IsZero() {
			return "planned for " + a.Date.UTC().Format("2006-01-02 15:04"), nil
		}
	case AppointmentCheckedIn:
		return e.byAt("checked in", TableAppointments, "", nil, "checkedInAt", a.CheckedInAt)
	case AppointmentInConsultation:
		return e.byAt("vitals entered", TableAppointments, "vitalsEnteredBy", a.VitalsEnteredBy, "vitalsEnteredAt", a.VitalsEnteredAt)
	case AppointmentConsultationCompleted:
		return e.byAt("consultation completed", TableAppointments, "consultedBy", a.ConsultedBy, "consultedAt", a.ConsultedAt)
	case AppointmentCompleted:
		return e.byAt("closed", TableAppointments, "closedBy", a.ClosedBy, "closedAt", a.ClosedAt)
	case AppointmentCancelled:
		// Nothing changes a cancelled appointment afterwards, so its
		// updatedAt is the moment it was cancelled.
		return e.byAt("cancelled", TableAppointments, "", nil, "updatedAt", &a.UpdatedAt)
	}
	return "", nil
}

func (e *env) prescriptionDetail(p *Prescription) (string, error) {
	switch p.Status {
	case PrescriptionCreated:
		return e.byAt("prescribed", TablePrescriptions, "doctorId", &p.DoctorID, "createdAt", &p.CreatedAt)
	case PrescriptionSentToLab:
		// sendToLab is the only act on a SENT_TO_LAB prescription, so its
		// updatedAt is when it was sent.
		return e.byAt("sent to the lab", TablePrescriptions, "", nil, "updatedAt", &p.UpdatedAt)
	case PrescriptionSampleCollected:
		return e.byAt("sample collected", TablePrescriptions, "nurseId", p.NurseID, "sampleCollectedAt", p.SampleCollectedAt)
	case PrescriptionInProgress:
		return e.byAt("analysis started", TablePrescriptions, "", nil, "analysisStartedAt", p.AnalysisStartedAt)
	case PrescriptionResultsAvailable, PrescriptionCompleted:
		res, err := e.resultFor(p.ID)
		if err != nil {
			return "", err
		}
		if p.Status == PrescriptionCompleted {
			if res == nil {
				return "", nil
			}
			return e.byAt("results reviewed", TableResults, "reviewedBy", res.ReviewedBy, "reviewedAt", res.ReviewedAt)
		}
		if res != nil {
			return e.byAt("results validated", TableResults, "validatedBy", res.ValidatedBy, "validatedAt", res.ValidatedAt)
		}
		return e.byAt("results available", TablePrescriptions, "", nil, "analysisCompletedAt", p.AnalysisCompletedAt)
	}
	return "", nil
}

// resultFor returns the prescription's result if the actor may read results
// and there is one; a role that may not read results never asks, so the
// workstation and the server take the same path.
func (e *env) resultFor(prescriptionID string) (*Result, error) {
	if !canRead(e.actor.Role, TableResults, "prescriptionId") {
		return nil, nil
	}
	res, err := e.r.ResultByPrescription(e.ctx, prescriptionID)
	if err == nil && res != nil {
		return res, nil
	}
	if err == nil || isNotFound(err) {
		return nil, nil
	}
	return nil, wrapRead("result of prescription", prescriptionID, err)
}

// wrongState builds the INVALID_TRANSITION for a row in state `is` when the
// act needs one of `want`.
func wrongState(kind, id, is, detail string, want ...string) *Rejection {
	s := capitalize(kind) + " " + id + " is " + is
	if detail != "" {
		s += " (" + detail + ")"
	}
	s += ", not " + orList(want) + "."
	return &Rejection{Code: CodeInvalidTransition, Message: s}
}

func (e *env) appointmentNotIn(a *Appointment, want ...AppointmentStatus) error {
	d, err := e.appointmentDetail(a)
	if err != nil {
		return err
	}
	return e.waitOr(wrongState("appointment", a.ID, string(a.Status), d, strs(want)...), TableAppointments, a.ID, string(a.Status))
}

func (e *env) prescriptionNotIn(p *Prescription, want ...PrescriptionStatus) error {
	d, err := e.prescriptionDetail(p)
	if err != nil {
		return err
	}
	return e.waitOr(wrongState("prescription", p.ID, string(p.Status), d, strs(want)...), TablePrescriptions, p.ID, string(p.Status))
}

// waitOr marks the wrong-state refusal r as deferrable when the act's path
// says the row's current state is one it waits in: the row is earlier on
// its path and the predecessor act has not landed yet.
func (e *env) waitOr(r *Rejection, table, id, status string) *Rejection {
	p := e.act.path
	if p == nil || p.table != table || !contains(p.waits, status) {
		return r
	}
	r.Wait = &Wait{Table: table, ID: id, Want: append([]string(nil), p.want...), Sentence: "waiting for " + p.sentence}
	return r
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// orList joins "a", "a or b", "a, b or c".
func orList(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// unknownAct refuses an act name this version does not know, naming the
// ones it does.
func unknownAct(name string) *Rejection {
	return Reject(CodeUnknownMutation, "Unknown act %s; this version knows %s.", quote(name), strings.Join(Names(), ", "))
}

// forbidden says who may not do what, and who does it instead:
// "A NURSE cannot check in an appointment; reception (SECRETARY) does that."
func forbidden(role Role, does string, who []Role, field string) *Rejection {
	names := make([]string, len(who))
	for i, r := range who {
		names[i] = roleNoun(r)
	}
	r := Reject(CodeForbidden, "%s %s cannot %s; %s does that.", capitalize(article(string(role))), role, does, orList(names))
	r.Field = field
	return r
}

// article returns "a" or "an" for the word that follows; the words it
// meets are role names and row kinds, where the first letter decides.
func article(word string) string {
	if word != "" && strings.ContainsRune("aeiouAEIOU", rune(word[0])) {
		return "an"
	}
	return "a"
}

func roleNoun(r Role) string {
	switch r {
	case RoleSecretary:
		return "reception (SECRETARY)"
	case RoleAdmin:
		return "an administrator (ADMIN)"
	case RoleNurse:
		return "a nurse (NURSE)"
	case RoleDoctor:
		return "a doctor (DOCTOR)"
	case RoleBiologist:
		return "the laboratory (BIOLOGIST)"
	}
	return string(r)
}
