package workflow

import (
	"reflect"
	"sort"
	"strings"
	"testing"
)

// visibilityMatrix restates the doc comment of visibility.go cell by cell:
// the letters are the roles that may read the column (A S N D B), "." a
// role that may not.
var visibilityMatrix = map[string]map[string]string{
	TableUsers: {
		"id": "ASNDB", "name": "ASNDB", "email": "A....", "password": ".....", "role": "ASNDB",
		"createdAt": "ASNDB", "updatedAt": "ASNDB",
	},
	TablePatients: {
		"id": "ASNDB", "firstName": "ASNDB", "lastName": "ASNDB", "birthDate": "ASNDB", "sex": "ASNDB",
		"phone": "AS...", "address": "AS...", "emergencyContact": "ASND.", "insurance": "AS...", "idNumber": "AS...",
		"consentMedicalData": "ASND.", "consentContact": "AS...", "medicalHistory": "..ND.",
		"createdAt": "ASNDB", "updatedAt": "ASNDB",
	},
	TableAppointments: {
		"id": "ASND.", "date": "ASND.", "motif": "ASND.", "status": "ASND.",
		"vitals": "..ND.", "medicalHistoryNotes": "..ND.", "consultationNotes": "...D.",
		"checkedInAt": "ASND.", "vitalsEnteredAt": "ASND.", "consultedAt": "ASND.", "closedAt": "AS...",
		"vitalsEnteredBy": "ASND.", "consultedBy": "ASND.", "closedBy": "AS...",
		"billingAmount": "AS...", "billingStatus": "AS...",
		"createdAt": "ASND.", "updatedAt": "ASND.", "patientId": "ASND.", "doctorId": "ASND.",
	},
	TablePrescriptions: {
		"id": "..NDB", "text": "..NDB", "status": "..NDB", "sampleCollectedAt": "..NDB", "analysisStartedAt": "..NDB",
		"analysisCompletedAt": "..NDB", "createdAt": "..NDB", "updatedAt": "..NDB", "patientId": "..NDB",
		"doctorId": "..NDB", "nurseId": "..NDB",
	},
	TableResults: {
		"id": "...DB", "data": "...DB", "text": "...DB", "validatedBy": "...DB", "validatedAt": "...DB",
		"reviewedBy": "...DB", "reviewedAt": "...DB", "interpretation": "...D.", "createdAt": "...DB",
		"updatedAt": "...DB", "prescriptionId": "...DB",
	},
	TableDocuments: {
		"id": ".SNDB", "name": ".SNDB", "type": ".SNDB", "url": ".SNDB", "uploadedBy": ".SNDB",
		"createdAt": ".SNDB", "updatedAt": ".SNDB", "patientId": ".SNDB",
	},
}

var matrixRoleOrder = []Role{RoleAdmin, RoleSecretary, RoleNurse, RoleDoctor, RoleBiologist}

func TestVisibilityMatrix(t *testing.T) {
	for _, table := range Tables {
		cols := visibilityMatrix[table]
		// Every schema column is in the matrix and nothing else.
		var names []string
		for c := range cols {
			names = append(names, c)
		}
		sort.Strings(names)
		schemaCols := append([]string(nil), Columns(table)...)
		sort.Strings(schemaCols)
		if !reflect.DeepEqual(names, schemaCols) {
			t.Fatalf("%s: matrix columns %v, schema columns %v", table, names, schemaCols)
		}
		for _, col := range Columns(table) {
			for i, role := range matrixRoleOrder {
				want := cols[col][i] != '.'
				t.Run(table+"."+col+"/"+string(role), func(t *testing.T) {
					if got := CanRead([]Role{role}, table, col); got != want {
						t.Fatalf("CanRead(%s, %s.%s) = %v, want %v", role, table, col, got, want)
					}
					if got := contains(VisibleColumns([]Role{role}, table), col); got != want {
						t.Fatalf("VisibleColumns(%s, %s) has %s = %v, want %v", role, table, col, got, want)
					}
				})
			}
		}
	}
}

func TestVisibleColumnsUnion(t *testing.T) {
	t.Run("order and union", func(t *testing.T) {
		got := VisibleColumns([]Role{RoleBiologist, RoleSecretary}, TablePatients)
		want := []string{"id", "firstName", "lastName", "birthDate", "sex", "phone", "address", "emergencyContact",
			"insurance", "idNumber", "consentMedicalData", "consentContact", "createdAt", "updatedAt"}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got %v", got)
		}
	})
	t.Run("every role together", func(t *testing.T) {
		for _, table := range Tables {
			got := VisibleColumns(Roles, table)
			for _, col := range Columns(table) {
				if want := !(table == TableUsers && col == "password"); contains(got, col) != want {
					t.Errorf("%s.%s visible to all roles together: %v", table, col, !want)
				}
			}
		}
	})
	t.Run("no roles", func(t *testing.T) {
		for _, table := range Tables {
			if VisibleColumns(nil, table) != nil || VisibleColumns([]Role{}, table) != nil {
				t.Errorf("%s visible without a role", table)
			}
		}
		if VisibleTables(nil) != nil {
			t.Error("tables visible without a role")
		}
	})
	t.Run("unknown role and table", func(t *testing.T) {
		if VisibleColumns([]Role{"JANITOR"}, TableUsers) != nil || CanRead([]Role{"JANITOR"}, TableUsers, "id") {
			t.Error("unknown role sees users")
		}
		if VisibleColumns(Roles, "sync.sessions") != nil || CanRead(Roles, TableUsers, "passwordHash") || Columns("x") != nil {
			t.Error("unknown table or column visible")
		}
	})
}

func TestVisibleTables(t *testing.T) {
	want := map[Role]string{
		RoleAdmin:     "users patients appointments",
		RoleSecretary: "users patients appointments documents",
		RoleNurse:     "users patients appointments prescriptions documents",
		RoleDoctor:    "users patients appointments prescriptions results documents",
		RoleBiologist: "users patients prescriptions results documents",
	}
	for _, r := range Roles {
		t.Run(string(r), func(t *testing.T) {
			if got := strings.Join(VisibleTables([]Role{r}), " "); got != want[r] {
				t.Fatalf("got %q, want %q", got, want[r])
			}
		})
	}
	t.Run("lab and reception", func(t *testing.T) {
		if got := strings.Join(VisibleTables([]Role{RoleBiologist, RoleAdmin}), " "); got != "users patients appointments prescriptions results documents" {
			t.Fatalf("got %q", got)
		}
	})
}

// TestNeedToKnowGuarantees states the need-to-know examples directly: a lab
// workstation never receives consultation notes or billing, and password
// hashes never leave the server.
func TestNeedToKnowGuarantees(t *testing.T) {
	lab := []Role{RoleBiologist}
	for _, c := range []struct {
		name  string
		roles []Role
		table string
		col   string
		want  bool
	}{
		{"lab never receives consultation notes", lab, TableAppointments, "consultationNotes", false},
		{"lab never receives billing", lab, TableAppointments, "billingAmount", false},
		{"lab labels samples with the name", lab, TablePatients, "lastName", true},
		{"lab reads the prescription", lab, TablePrescriptions, "text", true},
		{"admin never receives password", Roles, TableUsers, "password", false},
		{"nurse never receives billing", []Role{RoleNurse}, TableAppointments, "billingStatus", false},
		{"nurse never receives results", []Role{RoleNurse}, TableResults, "text", false},
		{"reception never receives vitals", []Role{RoleSecretary}, TableAppointments, "vitals", false},
		{"reception never receives medical history", []Role{RoleSecretary, RoleAdmin}, TablePatients, "medicalHistory", false},
		{"doctor reads notes", []Role{RoleDoctor}, TableAppointments, "consultationNotes", true},
		{"only admin reads email", []Role{RoleDoctor, RoleNurse, RoleSecretary, RoleBiologist}, TableUsers, "email", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if CanRead(c.roles, c.table, c.col) != c.want {
				t.Fatalf("CanRead(%v, %s.%s) != %v", c.roles, c.table, c.col, c.want)
			}
		})
	}
}

// TestEveryWriterCanRead: every column a role's acts may write, it may
// read, so its workstation keeps what it just wrote.
func TestEveryWriterCanRead(t *testing.T) {
	for _, f := range patientFields {
		for _, r := range f.writers {
			if !CanRead([]Role{r}, TablePatients, f.name) {
				t.Errorf("%s may set patients.%s but not read it", r, f.name)
			}
		}
	}
}
