-- The workstation's replica of the seed's six tables. Every column of the
-- seed is here under the seed's own name, so any column a device may see
-- can be stored; a column the device may not see simply stays NULL, which is
-- why nothing but the primary key is NOT NULL.
--
-- There are no foreign keys between these tables: the server is the
-- authority, and need-to-know filtering hides parent rows from some devices
-- (a lab workstation receives prescriptions but no appointments, and sees
-- users only partly), so a child row regularly arrives without its parent.
--
-- Storage conventions (desktop/sqlite converts in both directions):
--   timestamps  TEXT, UTC, fixed width "2006-01-02T15:04:05.000Z" (TIMESTAMP(3)
--               precision), so that text order is time order and range
--               queries can use the indexes;
--   JSON        TEXT holding compact JSON;
--   decimals    TEXT, canonical two decimals ("120.50");
--   booleans    INTEGER 0/1;
--   enums       TEXT holding the enum value.
-- Names are compared without regard to ASCII case (COLLATE NOCASE) so that
-- patient search can use its indexes.

-- +goose Up
CREATE TABLE "users" (
    "id"        TEXT PRIMARY KEY NOT NULL,
    "name"      TEXT,
    "email"     TEXT,
    -- never filled: password hashes do not leave the server
    "password"  TEXT,
    "role"      TEXT,
    "createdAt" TEXT,
    "updatedAt" TEXT
) WITHOUT ROWID;

CREATE TABLE "patients" (
    "id"                 TEXT PRIMARY KEY NOT NULL,
    "firstName"          TEXT COLLATE NOCASE,
    "lastName"           TEXT COLLATE NOCASE,
    "birthDate"          TEXT,
    "sex"                TEXT,
    "phone"              TEXT,
    "address"            TEXT,
    "emergencyContact"   TEXT,
    "insurance"          TEXT,
    "idNumber"           TEXT,
    "consentMedicalData" INTEGER,
    "consentContact"     INTEGER,
    "medicalHistory"     TEXT,
    "createdAt"          TEXT,
    "updatedAt"          TEXT
) WITHOUT ROWID;

CREATE TABLE "appointments" (
    "id"                  TEXT PRIMARY KEY NOT NULL,
    "date"                TEXT,
    "motif"               TEXT,
    "status"              TEXT,
    "vitals"              TEXT,
    "medicalHistoryNotes" TEXT,
    "consultationNotes"   TEXT,
    "checkedInAt"         TEXT,
    "vitalsEnteredAt"     TEXT,
    "consultedAt"         TEXT,
    "closedAt"            TEXT,
    "vitalsEnteredBy"     TEXT,
    "consultedBy"         TEXT,
    "closedBy"            TEXT,
    "billingAmount"       TEXT,
    "billingStatus"       TEXT,
    "createdAt"           TEXT,
    "updatedAt"           TEXT,
    "patientId"           TEXT,
    "doctorId"            TEXT
) WITHOUT ROWID;

CREATE TABLE "prescriptions" (
    "id"                  TEXT PRIMARY KEY NOT NULL,
    "text"                TEXT,
    "status"              TEXT,
    "sampleCollectedAt"   TEXT,
    "analysisStartedAt"   TEXT,
    "analysisCompletedAt" TEXT,
    "createdAt"           TEXT,
    "updatedAt"           TEXT,
    "patientId"           TEXT,
    "doctorId"            TEXT,
    "nurseId"             TEXT
) WITHOUT ROWID;

CREATE TABLE "results" (
    "id"             TEXT PRIMARY KEY NOT NULL,
    "data"           TEXT,
    "text"           TEXT,
    "validatedBy"    TEXT,
    "validatedAt"    TEXT,
    "reviewedBy"     TEXT,
    "reviewedAt"     TEXT,
    "interpretation" TEXT,
    "createdAt"      TEXT,
    "updatedAt"      TEXT,
    "prescriptionId" TEXT
) WITHOUT ROWID;

CREATE TABLE "documents" (
    "id"         TEXT PRIMARY KEY NOT NULL,
    "name"       TEXT,
    "type"       TEXT,
    "url"        TEXT,
    "uploadedBy" TEXT,
    "createdAt"  TEXT,
    "updatedAt"  TEXT,
    "patientId"  TEXT
) WITHOUT ROWID;

-- The seed's indexes (results.prescriptionId is unique on the server; here
-- it is not, because the server's order of a page's rows is not ours to
-- rely on while a result is replaced).
CREATE INDEX "appointments_patientId_idx" ON "appointments"("patientId");
CREATE INDEX "appointments_doctorId_idx" ON "appointments"("doctorId");
CREATE INDEX "appointments_date_idx" ON "appointments"("date");
CREATE INDEX "appointments_status_idx" ON "appointments"("status");
CREATE INDEX "appointments_date_status_idx" ON "appointments"("date", "status");
CREATE INDEX "prescriptions_patientId_idx" ON "prescriptions"("patientId");
CREATE INDEX "prescriptions_doctorId_idx" ON "prescriptions"("doctorId");
CREATE INDEX "prescriptions_status_idx" ON "prescriptions"("status");
CREATE INDEX "prescriptions_nurseId_idx" ON "prescriptions"("nurseId");
CREATE INDEX "prescriptions_patient_status_idx" ON "prescriptions"("patientId", "status");
CREATE INDEX "results_prescriptionId_idx" ON "results"("prescriptionId");
CREATE INDEX "documents_patientId_idx" ON "documents"("patientId");

-- The dashboards' queues: each filters on a status and reads in the order
-- of one timestamp, LIMIT 50, so (status, order column) lets SQLite walk
-- the index and stop after 50 rows instead of sorting the whole status.
CREATE INDEX "appointments_status_date_idx" ON "appointments"("status", "date");
CREATE INDEX "appointments_status_checkedInAt_idx" ON "appointments"("status", "checkedInAt");
CREATE INDEX "appointments_status_doctor_vitals_idx" ON "appointments"("status", "doctorId", "vitalsEnteredAt");
CREATE INDEX "appointments_status_consultedAt_idx" ON "appointments"("status", "consultedAt");
CREATE INDEX "appointments_status_closedAt_idx" ON "appointments"("status", "closedAt");
CREATE INDEX "prescriptions_status_updatedAt_idx" ON "prescriptions"("status", "updatedAt");
CREATE INDEX "prescriptions_status_sampleCollectedAt_idx" ON "prescriptions"("status", "sampleCollectedAt");
CREATE INDEX "prescriptions_status_analysisStartedAt_idx" ON "prescriptions"("status", "analysisStartedAt");
CREATE INDEX "prescriptions_status_doctor_completed_idx" ON "prescriptions"("status", "doctorId", "analysisCompletedAt");

-- Patient search by name (prefix, any ASCII case) and by birth date.
CREATE INDEX "patients_lastName_idx" ON "patients"("lastName");
CREATE INDEX "patients_firstName_idx" ON "patients"("firstName");
CREATE INDEX "patients_birthDate_idx" ON "patients"("birthDate");

-- +goose Down
DROP TABLE "documents";
DROP TABLE "results";
DROP TABLE "prescriptions";
DROP TABLE "appointments";
DROP TABLE "patients";
DROP TABLE "users";
