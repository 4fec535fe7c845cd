package workflow

import (
	"encoding/json"
	"time"
)

// The row types mirror the seed's Prisma models field for field. JSON tags
// use the seed's column names so that a row travels on the wire as the seed
// spells it. Nullable columns are pointers (or nil RawMessage for JSON).

// User is a row of "users". Password never leaves the server; it is here so
// that the server's own adapter can scan it, and is tagged "-" on the wire.
type User struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	Password  string    `json:"-"`
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Patient is a row of "patients".
type Patient struct {
	ID                 string          `json:"id"`
	FirstName          string          `json:"firstName"`
	LastName           string          `json:"lastName"`
	BirthDate          time.Time       `json:"birthDate"`
	Sex                string          `json:"sex"`
	Phone              string          `json:"phone"`
	Address            string          `json:"address"`
	EmergencyContact   string          `json:"emergencyContact"`
	Insurance          string          `json:"insurance"`
	IDNumber           *string         `json:"idNumber"`
	ConsentMedicalData bool            `json:"consentMedicalData"`
	ConsentContact     bool            `json:"consentContact"`
	MedicalHistory     json.RawMessage `json:"medicalHistory"`
	CreatedAt          time.Time       `json:"createdAt"`
	UpdatedAt          time.Time       `json:"updatedAt"`
}

// Appointment is a row of "appointments".
type Appointment struct {
	ID                  string            `json:"id"`
	Date                time.Time         `json:"date"`
	Motif               string            `json:"motif"`
	Status              AppointmentStatus `json:"status"`
	Vitals              json.RawMessage   `json:"vitals"`
	MedicalHistoryNotes *string           `json:"medicalHistoryNotes"`
	ConsultationNotes   *string           `json:"consultationNotes"`
	CheckedInAt         *time.Time        `json:"checkedInAt"`
	VitalsEnteredAt     *time.Time        `json:"vitalsEnteredAt"`
	ConsultedAt         *time.Time        `json:"consultedAt"`
	ClosedAt            *time.Time        `json:"closedAt"`
	VitalsEnteredBy     *string           `json:"vitalsEnteredBy"`
	ConsultedBy         *string           `json:"consultedBy"`
	ClosedBy            *string           `json:"closedBy"`
	BillingAmount       *Decimal          `json:"billingAmount"`
	BillingStatus       *BillingStatus    `json:"billingStatus"`
	CreatedAt           time.Time         `json:"createdAt"`
	UpdatedAt           time.Time         `json:"updatedAt"`
	PatientID           string            `json:"patientId"`
	DoctorID            string            `json:"doctorId"`
}

// Prescription is a row of "prescriptions".
type Prescription struct {
	ID                  string             `json:"id"`
	Text                string             `json:"text"`
	Status              PrescriptionStatus `json:"status"`
	SampleCollectedAt   *time.Time         `json:"sampleCollectedAt"`
	AnalysisStartedAt   *time.Time         `json:"analysisStartedAt"`
	AnalysisCompletedAt *time.Time         `json:"analysisCompletedAt"`
	CreatedAt           time.Time          `json:"createdAt"`
	UpdatedAt           time.Time          `json:"updatedAt"`
	PatientID           string             `json:"patientId"`
	DoctorID            string             `json:"doctorId"`
	NurseID             *string            `json:"nurseId"`
}

// Result is a row of "results".
type Result struct {
	ID             string          `json:"id"`
	Data           json.RawMessage `json:"data"`
	Text           string          `json:"text"`
	ValidatedBy    *string         `json:"validatedBy"`
	ValidatedAt    *time.Time      `json:"validatedAt"`
	ReviewedBy     *string         `json:"reviewedBy"`
	ReviewedAt     *time.Time      `json:"reviewedAt"`
	Interpretation *string         `json:"interpretation"`
	CreatedAt      time.Time       `json:"createdAt"`
	UpdatedAt      time.Time       `json:"updatedAt"`
	PrescriptionID string          `json:"prescriptionId"`
}

// Document is a row of "documents".
type Document struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Type       string    `json:"type"`
	URL        string    `json:"url"`
	UploadedBy *string   `json:"uploadedBy"`
	CreatedAt  time.Time `json:"createdAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
	PatientID  string    `json:"patientId"`
}
