package workflow

// Need to know (docs/visibility.md). A device receives only the tables
// and columns that the roles it serves may read; the server filters with
// these functions before anything leaves it, and the workstation's mutators
// only ever look at these columns, so they give the same answer on both
// sides. The matrix (A = ADMIN, S = SECRETARY, N = NURSE, D = DOCTOR,
// B = BIOLOGIST; a device sees the union over its roles):
//
//	table.column                                      A S N D B
//	users.id, name, role, createdAt, updatedAt        x x x x x   names on every screen, the doctor list
//	users.email                                       x . . . .   user management only
//	users.password                                    . . . . .   never leaves the server
//	patients.id, firstName, lastName, birthDate, sex,
//	         createdAt, updatedAt                     x x x x x   identity; the lab labels samples with it
//	patients.phone, address, insurance, idNumber      x x . . .   reception's business
//	patients.emergencyContact                         x x x x .   the ward calls it when the patient worsens
//	patients.consentMedicalData                       x x x x .   those who write medical data must see it
//	patients.consentContact                           x x . . .   reception's business
//	patients.medicalHistory                           . . x x .   clinical
//	appointments.id, date, motif, status, patientId,
//	         doctorId, createdAt, updatedAt,
//	         checkedInAt                              x x x x .   the day's queues
//	appointments.vitalsEnteredAt, vitalsEnteredBy,
//	         consultedAt, consultedBy                 x x x x .   workflow metadata (see below)
//	appointments.vitals, medicalHistoryNotes          . . x x .   clinical
//	appointments.consultationNotes                    . . . x .   the doctor's own notes
//	appointments.billingAmount, billingStatus,
//	         closedAt, closedBy                       x x . . .   billing
//	prescriptions.* (every column)                    . . x x x   the nurse reads what to sample, the lab what to analyse
//	results.* except interpretation                   . . . x x
//	results.interpretation                            . . . x .   the doctor's judgement about the patient
//	documents.* (every column)                        . x x x x   whoever may attach a document sees the list
//
// consultedAt/consultedBy (and vitalsEnteredAt/By) are visible to everyone who
// sees appointments: they say who did a step and when, never what was found.
// The status CONSULTATION_COMPLETED already tells reception that a
// consultation happened; reception needs its time to close and bill the
// visit, and every role's "why was I refused" sentence names who moved the
// appointment on. The BIOLOGIST sees no appointment at all: the lab works
// from prescriptions, and an appointment's motif is already clinical.
//
// Every column a role's own acts read is visible to that role (ids, foreign
// keys, statuses, the billing status for recordPayment, users.role for
// appointment.schedule), so a workstation runs its mutators on its filtered
// replica with the same outcome as the server; a test checks this for every
// act and role.

// roleSet is a bit set of roles; it keeps the matrix below readable.
type roleSet uint8

const (
	setAdmin roleSet = 1 << iota
	setDoctor
	setBiologist
	setNurse
	setSecretary

	setNone      roleSet = 0
	setEveryone          = setAdmin | setDoctor | setBiologist | setNurse | setSecretary
	setFrontDesk         = setAdmin | setSecretary
	setClinical          = setNurse | setDoctor
	setWard              = setFrontDesk | setClinical // who sees appointments
	setLab               = setClinical | setBiologist // who sees prescriptions
	setAttachers         = setSecretary | setNurse | setDoctor | setBiologist
)

func roleBit(r Role) roleSet {
	switch r {
	case RoleAdmin:
		return setAdmin
	case RoleDoctor:
		return setDoctor
	case RoleBiologist:
		return setBiologist
	case RoleNurse:
		return setNurse
	case RoleSecretary:
		return setSecretary
	}
	return setNone
}

func unionOf(roles []Role) roleSet {
	var s roleSet
	for _, r := range roles {
		s |= roleBit(r)
	}
	return s
}

type columnRule struct {
	name    string
	readers roleSet
}

// schema lists every seed column in the Prisma schema's order, with who may
// read it. It is the single source of Columns, VisibleColumns and CanRead.
var schema = map[string][]columnRule{
	TableUsers: {
		{"id", setEveryone},
		{"name", setEveryone},
		{"email", setAdmin},
		{"password", setNone},
		{"role", setEveryone},
		{"createdAt", setEveryone},
		{"updatedAt", setEveryone},
	},
	TablePatients: {
		{"id", setEveryone},
		{"firstName", setEveryone},
		{"lastName", setEveryone},
		{"birthDate", setEveryone},
		{"sex", setEveryone},
		{"phone", setFrontDesk},
		{"address", setFrontDesk},
		{"emergencyContact", setWard},
		{"insurance", setFrontDesk},
		{"idNumber", setFrontDesk},
		{"consentMedicalData", setWard},
		{"consentContact", setFrontDesk},
		{"medicalHistory", setClinical},
		{"createdAt", setEveryone},
		{"updatedAt", setEveryone},
	},
	TableAppointments: {
		{"id", setWard},
		{"date", setWard},
		{"motif", setWard},
		{"status", setWard},
		{"vitals", setClinical},
		{"medicalHistoryNotes", setClinical},
		{"consultationNotes", setDoctor},
		{"checkedInAt", setWard},
		{"vitalsEnteredAt", setWard},
		{"consultedAt", setWard},
		{"closedAt", setFrontDesk},
		{"vitalsEnteredBy", setWard},
		{"consultedBy", setWard},
		{"closedBy", setFrontDesk},
		{"billingAmount", setFrontDesk},
		{"billingStatus", setFrontDesk},
		{"createdAt", setWard},
		{"updatedAt", setWard},
		{"patientId", setWard},
		{"doctorId", setWard},
	},
	TablePrescriptions: {
		{"id", setLab},
		{"text", setLab},
		{"status", setLab},
		{"sampleCollectedAt", setLab},
		{"analysisStartedAt", setLab},
		{"analysisCompletedAt", setLab},
		{"createdAt", setLab},
		{"updatedAt", setLab},
		{"patientId", setLab},
		{"doctorId", setLab},
		{"nurseId", setLab},
	},
	TableResults: {
		{"id", setDoctor | setBiologist},
		{"data", setDoctor | setBiologist},
		{"text", setDoctor | setBiologist},
		{"validatedBy", setDoctor | setBiologist},
		{"validatedAt", setDoctor | setBiologist},
		{"reviewedBy", setDoctor | setBiologist},
		{"reviewedAt", setDoctor | setBiologist},
		{"interpretation", setDoctor},
		{"createdAt", setDoctor | setBiologist},
		{"updatedAt", setDoctor | setBiologist},
		{"prescriptionId", setDoctor | setBiologist},
	},
	TableDocuments: {
		{"id", setAttachers},
		{"name", setAttachers},
		{"type", setAttachers},
		{"url", setAttachers},
		{"uploadedBy", setAttachers},
		{"createdAt", setAttachers},
		{"updatedAt", setAttachers},
		{"patientId", setAttachers},
	},
}

// Columns lists every column of a seed table in the schema's order, or nil
// for an unknown table.
func Columns(table string) []string {
	rules := schema[table]
	if rules == nil {
		return nil
	}
	out := make([]string, len(rules))
	for i, c := range rules {
		out[i] = c.name
	}
	return out
}

// VisibleColumns lists, in schema order, the columns of table that a device
// serving roles may receive. nil means the table is not visible at all.
// Unknown roles grant nothing.
func VisibleColumns(roles []Role, table string) []string {
	set := unionOf(roles)
	var out []string
	for _, c := range schema[table] {
		if c.readers&set != 0 {
			out = append(out, c.name)
		}
	}
	return out
}

// VisibleTables lists, in foreign-key order, the tables of which a device
// serving roles may receive at least one column.
func VisibleTables(roles []Role) []string {
	var out []string
	for _, t := range Tables {
		if len(VisibleColumns(roles, t)) > 0 {
			out = append(out, t)
		}
	}
	return out
}

// CanRead reports whether a device serving roles may receive table.column.
func CanRead(roles []Role, table, column string) bool {
	set := unionOf(roles)
	for _, c := range schema[table] {
		if c.name == column {
			return c.readers&set != 0
		}
	}
	return false
}

// canRead is CanRead for the one role of an actor, without allocating.
func canRead(r Role, table, column string) bool {
	bit := roleBit(r)
	for _, c := range schema[table] {
		if c.name == column {
			return c.readers&bit != 0
		}
	}
	return false
}
