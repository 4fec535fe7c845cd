package http_test

import (
	"time"

	"wardsync/internal/wardtest"
	"wardsync/server/postgres"
	"wardsync/workflow"
)

// The seed's users and workstation, by the names the tests use.
var (
	adminID     = wardtest.UserID(workflow.RoleAdmin)
	doctorID    = wardtest.UserID(workflow.RoleDoctor)
	biologistID = wardtest.UserID(workflow.RoleBiologist)
	nurseID     = wardtest.UserID(workflow.RoleNurse)
	secretaryID = wardtest.UserID(workflow.RoleSecretary)
	demo        = postgres.DemoDeviceID
)

// ms is a time as TIMESTAMP(3) keeps it.
func ms(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

func seedID(name string) string { return postgres.SeedID(name) }
