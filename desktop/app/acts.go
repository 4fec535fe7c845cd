package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"wardsync/workflow"
)

// One typed method per act of the workflow's table. Each takes the acting user's id
// (the UI's logged-in user) first, builds the act's arguments with the
// seed's field names, and queues the act through the engine, which runs the
// same mutator the server will. A refusal comes back as a Problem.

// Acted is a queued act. RowID is the new row's id for acts that insert
// one (patient, appointment, prescription, result, document), else the id
// of the row acted on.
type Acted struct {
	MutationID string    `json:"mutationId"`
	Seq        int64     `json:"seq"`
	OccurredAt time.Time `json:"occurredAt"`
	RowID      string    `json:"rowId"`
	// WaitingFor is set when the act came before its predecessor on
	// another workstation: "waiting for check-in at reception".
	WaitingFor string `json:"waitingFor,omitempty"`
}

func (a *App) act(userID, name, rowID string, args map[string]any) (*Acted, error) {
	e, err := a.eng()
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(args)
	if err != nil {
		return nil, fmt.Errorf("encode the arguments of %s: %w", name, err)
	}
	reissueOf := a.reissueFor(name)
	res, err := e.Reissue(a.base, userID, name, raw, reissueOf)
	if err != nil {
		return nil, err
	}
	if reissueOf != "" {
		a.reissued(reissueOf)
	}
	return &Acted{MutationID: res.ID, Seq: res.Seq, OccurredAt: res.OccurredAt, RowID: rowID, WaitingFor: res.WaitingFor}, nil
}

func newID() string { return uuid.NewString() }

// PatientForm is patient.register's arguments (the seed's columns).
// BirthDate is "YYYY-MM-DD" or RFC 3339. Empty optional texts are left out,
// so that the seed's defaults apply.
type PatientForm struct {
	FirstName          string  `json:"firstName"`
	LastName           string  `json:"lastName"`
	BirthDate          string  `json:"birthDate"`
	Sex                string  `json:"sex"`
	Phone              string  `json:"phone"`
	Address            string  `json:"address"`
	EmergencyContact   string  `json:"emergencyContact"`
	Insurance          string  `json:"insurance"`
	IDNumber           *string `json:"idNumber"`
	ConsentMedicalData bool    `json:"consentMedicalData"`
	ConsentContact     bool    `json:"consentContact"`
}

// birthDate turns a date input's "YYYY-MM-DD" into RFC 3339 midnight UTC;
// anything else goes as typed, for the mutator to judge.
func birthDate(s string) string {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.UTC().Format(time.RFC3339)
	}
	return s
}

// RegisterPatient registers a new patient (SECRETARY, ADMIN).
func (a *App) RegisterPatient(userID string, p PatientForm) (*Acted, error) {
	id := newID()
	args := map[string]any{"id": id, "firstName": p.FirstName, "lastName": p.LastName, "birthDate": birthDate(p.BirthDate),
		"consentMedicalData": p.ConsentMedicalData, "consentContact": p.ConsentContact}
	for k, v := range map[string]string{"sex": p.Sex, "phone": p.Phone, "address": p.Address,
		"emergencyContact": p.EmergencyContact, "insurance": p.Insurance} {
		if strings.TrimSpace(v) != "" {
			args[k] = v
		}
	}
	if p.IDNumber != nil && strings.TrimSpace(*p.IDNumber) != "" {
		args["idNumber"] = *p.IDNumber
	}
	return a.act(userID, "patient.register", id, args)
}

// PatientPatch is patient.update's fields: only those given change.
// MedicalHistory is JSON text (an object or a list), for NURSE and DOCTOR.
type PatientPatch struct {
	FirstName          *string `json:"firstName,omitempty"`
	LastName           *string `json:"lastName,omitempty"`
	BirthDate          *string `json:"birthDate,omitempty"`
	Sex                *string `json:"sex,omitempty"`
	Phone              *string `json:"phone,omitempty"`
	Address            *string `json:"address,omitempty"`
	EmergencyContact   *string `json:"emergencyContact,omitempty"`
	Insurance          *string `json:"insurance,omitempty"`
	IDNumber           *string `json:"idNumber,omitempty"`
	ConsentMedicalData *bool   `json:"consentMedicalData,omitempty"`
	ConsentContact     *bool   `json:"consentContact,omitempty"`
	MedicalHistory     *string `json:"medicalHistory,omitempty"`
}

// UpdatePatient patches a patient's record.
func (a *App) UpdatePatient(userID, patientID string, p PatientPatch) (*Acted, error) {
	args := map[string]any{"id": patientID}
	for k, v := range map[string]*string{"firstName": p.FirstName, "lastName": p.LastName, "sex": p.Sex, "phone": p.Phone,
		"address": p.Address, "emergencyContact": p.EmergencyContact, "insurance": p.Insurance, "idNumber": p.IDNumber} {
		if v != nil {
			args[k] = *v
		}
	}
	if p.BirthDate != nil {
		args["birthDate"] = birthDate(*p.BirthDate)
	}
	if p.ConsentMedicalData != nil {
		args["consentMedicalData"] = *p.ConsentMedicalData
	}
	if p.ConsentContact != nil {
		args["consentContact"] = *p.ConsentContact
	}
	if p.MedicalHistory != nil {
		raw, err := jsonArg("medicalHistory", "Medical history", *p.MedicalHistory)
		if err != nil {
			return nil, err
		}
		if raw != nil {
			args["medicalHistory"] = raw
		} else {
			args["medicalHistory"] = nil
		}
	}
	return a.act(userID, "patient.update", patientID, args)
}

// jsonArg parses JSON typed in a text box ("" is nil). Text that is not
// JSON cannot travel inside the arguments, so it is refused here, naming
// the field.
func jsonArg(field, label, text string) (json.RawMessage, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, nil
	}
	if !json.Valid([]byte(text)) {
		var v any
		err := json.Unmarshal([]byte(text), &v)
		return nil, invalid(field, fmt.Sprintf("%s is not valid JSON (%s); write an object such as {\"hemoglobin\": 13.5}.",
			label, strings.TrimPrefix(err.Error(), "json: ")))
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(text)); err != nil {
		return nil, invalid(field, label+" is not valid JSON.")
	}
	return buf.Bytes(), nil
}

// ScheduleAppointment books a patient with a doctor. date is RFC 3339.
func (a *App) ScheduleAppointment(userID, patientID, doctorID, date, motif string) (*Acted, error) {
	id := newID()
	return a.act(userID, "appointment.schedule", id, map[string]any{
		"id": id, "patientId": patientID, "doctorId": doctorID, "date": strings.TrimSpace(date), "motif": motif})
}

// CheckIn records the patient's arrival (SECRETARY).
func (a *App) CheckIn(userID, appointmentID string) (*Acted, error) {
	return a.act(userID, "appointment.checkIn", appointmentID, map[string]any{"id": appointmentID})
}

// BloodPressure is the vitals' blood pressure in mmHg.
type BloodPressure struct {
	Systolic  *float64 `json:"systolic,omitempty"`
	Diastolic *float64 `json:"diastolic,omitempty"`
}

// Vitals is the seed's VitalsData as the form sends it: a measure left
// empty is absent (nil), so that the refusal says it "must be given"
// rather than judging a zero nobody typed.
type Vitals struct {
	Weight           *float64       `json:"weight,omitempty"`
	Height           *float64       `json:"height,omitempty"`
	Temperature      *float64       `json:"temperature,omitempty"`
	BloodPressure    *BloodPressure `json:"bloodPressure,omitempty"`
	HeartRate        *float64       `json:"heartRate,omitempty"`
	RespiratoryRate  *float64       `json:"respiratoryRate,omitempty"`
	OxygenSaturation *float64       `json:"oxygenSaturation,omitempty"`
}

// RecordVitals records the nurse's measures and notes (NURSE).
func (a *App) RecordVitals(userID, appointmentID string, vitals Vitals, medicalHistoryNotes string) (*Acted, error) {
	args := map[string]any{"id": appointmentID, "vitals": vitals}
	if medicalHistoryNotes != "" {
		args["medicalHistoryNotes"] = medicalHistoryNotes
	}
	return a.act(userID, "appointment.recordVitals", appointmentID, args)
}

// CompleteConsultation records the doctor's notes (DOCTOR).
func (a *App) CompleteConsultation(userID, appointmentID, consultationNotes string) (*Acted, error) {
	return a.act(userID, "appointment.completeConsultation", appointmentID,
		map[string]any{"id": appointmentID, "consultationNotes": consultationNotes})
}

// CloseAppointment closes and bills a visit (SECRETARY). billingAmount is
// a decimal such as "120.50".
func (a *App) CloseAppointment(userID, appointmentID, billingAmount, billingStatus string) (*Acted, error) {
	return a.act(userID, "appointment.close", appointmentID, map[string]any{
		"id": appointmentID, "billingAmount": strings.TrimSpace(billingAmount), "billingStatus": billingStatus})
}

// RecordPayment moves a bill to PARTIALLY_PAID or PAID (SECRETARY).
func (a *App) RecordPayment(userID, appointmentID, billingStatus string) (*Acted, error) {
	return a.act(userID, "appointment.recordPayment", appointmentID,
		map[string]any{"id": appointmentID, "billingStatus": billingStatus})
}

// CancelAppointment cancels a scheduled or checked-in appointment.
func (a *App) CancelAppointment(userID, appointmentID string) (*Acted, error) {
	return a.act(userID, "appointment.cancel", appointmentID, map[string]any{"id": appointmentID})
}

// CreatePrescription writes a prescription in the doctor's own name (DOCTOR).
func (a *App) CreatePrescription(userID, patientID, text string) (*Acted, error) {
	id := newID()
	return a.act(userID, "prescription.create", id, map[string]any{"id": id, "patientId": patientID, "text": text})
}

// SendToLab sends a prescription to the lab (DOCTOR).
func (a *App) SendToLab(userID, prescriptionID string) (*Acted, error) {
	return a.act(userID, "prescription.sendToLab", prescriptionID, map[string]any{"id": prescriptionID})
}

// CollectSample records the sample's collection (NURSE).
func (a *App) CollectSample(userID, prescriptionID string) (*Acted, error) {
	return a.act(userID, "prescription.collectSample", prescriptionID, map[string]any{"id": prescriptionID})
}

// StartAnalysis starts the lab's analysis (BIOLOGIST).
func (a *App) StartAnalysis(userID, prescriptionID string) (*Acted, error) {
	return a.act(userID, "prescription.startAnalysis", prescriptionID, map[string]any{"id": prescriptionID})
}

// CreateResult enters and validates a lab result (BIOLOGIST). data is
// optional JSON text (an object of measured values).
func (a *App) CreateResult(userID, prescriptionID, text, data string) (*Acted, error) {
	id := newID()
	args := map[string]any{"id": id, "prescriptionId": prescriptionID, "text": text}
	raw, err := jsonArg("data", "Result data", data)
	if err != nil {
		return nil, err
	}
	if raw != nil {
		args["data"] = raw
	}
	return a.act(userID, "result.create", id, args)
}

// ReviewResult records the doctor's interpretation of a result (DOCTOR).
func (a *App) ReviewResult(userID, resultID, interpretation string) (*Acted, error) {
	args := map[string]any{"id": resultID}
	if interpretation != "" {
		args["interpretation"] = interpretation
	}
	return a.act(userID, "result.review", resultID, args)
}

// AttachDocument records a document's metadata for a patient.
func (a *App) AttachDocument(userID, patientID, name, docType, url string) (*Acted, error) {
	id := newID()
	return a.act(userID, "document.attach", id, map[string]any{
		"id": id, "patientId": patientID, "name": name, "type": docType, "url": url})
}

// Roles lists the roles in the seed's order (for the UI's labels).
func (a *App) Roles() []workflow.Role { return append([]workflow.Role(nil), workflow.Roles...) }

// rawJSON keeps stored JSON as it is when it travels to the UI.
func rawJSON(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return json.RawMessage(b)
}
