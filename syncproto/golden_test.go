package syncproto

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"wardsync/workflow"
)

// goldenHead41 is the hash of the golden device's act 41, the one before
// the golden push: welcome.chainHead says it, and act 42 links to it.
const goldenHead41 = "5be2ab4e0e6fb2d4a4cf3f3a2e1f8c0d9b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d"

// goldenPush is the golden push, chained after goldenHead41.
func goldenPush() *Push {
	p := &Push{
		RequestID: "r-2",
		Mutations: []Mutation{
			{
				Seq:        42,
				ID:         "0f8fad5b-d9cb-469f-a165-70867728950e",
				Name:       "appointment.checkIn",
				Args:       json.RawMessage(`{"id":"5c1d2e3f-0a1b-4c2d-8e3f-405162738495"}`),
				OccurredAt: at("2025-03-14T09:26:53.120Z"),
				AuthorID:   "c3a9e1f0-5b7d-4e2a-9f10-2b3c4d5e6f70",
			},
			{
				Seq:  43,
				ID:   "1b4e28ba-2fa1-4d2c-883f-0016d3cca427",
				Name: "appointment.recordVitals",
				Args: json.RawMessage(`{"id":"5c1d2e3f-0a1b-4c2d-8e3f-405162738495","vitals":{"weight":75.5,"height":175,` +
					`"temperature":37.2,"bloodPressure":{"systolic":120,"diastolic":80},"heartRate":72},` +
					`"medicalHistoryNotes":"Allergie à la pénicilline <sévère> & asthme"}`),
				OccurredAt: at("2025-03-14T09:41:07Z"),
				AuthorID:   "d4b0f2a1-6c8e-4f3b-8a21-3c4d5e6f7081",
				ReissueOf:  "2c9a7e10-5b3d-4f6e-9a1b-7c8d9e0f1a2b",
			},
		},
	}
	if _, err := Chain("7d1c6a52-3f0e-4b8a-9c1d-2e5f60718293", goldenHead41, p.Mutations); err != nil {
		panic(err)
	}
	// Ed25519 signs deterministically: fixed keys give fixed signatures.
	SignAct(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32)), "8e0c1d2a-4b5f-4c6d-9e7f-a0b1c2d3e4f5", &p.Mutations[0])
	SignAct(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, 32)), "9f1d2e3b-5c6a-4d7e-8f90-b1c2d3e4f5a6", &p.Mutations[1])
	return p
}

var update = flag.Bool("update", false, "rewrite the golden frames in testdata/")

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func atPtr(s string) *time.Time {
	t := at(s)
	return &t
}

// goldenFrames are the reference frames, one per type. Their wire form is
// frozen in testdata/<type>.json: a change there is a protocol change.
func goldenFrames() []Frame {
	push := goldenPush()
	return []Frame{
		&Hello{
			RequestID:       "r-1",
			Protocol:        Version,
			DeviceID:        "7d1c6a52-3f0e-4b8a-9c1d-2e5f60718293",
			Cursor:          "f.144636.0.7c1e9a4b",
			LastMutationSeq: 43,
			Pending:         2,
			OldestPendingAt: atPtr("2025-03-14T09:26:53.120Z"),
			ClientVersion:   "1.3.0",
		},
		push,
		&Pull{RequestID: "r-3", Cursor: "f.144636.0.7c1e9a4b", Limit: 500},
		&Report{Pending: 1, OldestPendingAt: atPtr("2025-03-14T09:41:07Z")},
		&Welcome{
			RequestID:       "r-1",
			ServerTime:      at("2025-03-14T09:42:00.5Z"),
			Head:            "96517",
			LastMutationSeq: 41,
			DeviceName:      "Accueil — Cardiologie",
			Roles:           []workflow.Role{workflow.RoleSecretary, workflow.RoleNurse},
			ChainHead:       goldenHead41,
		},
		&PushResult{
			RequestID: "r-2",
			Results: []MutationResult{
				{Seq: 42, Status: StatusApplied},
				{Seq: 43, Status: StatusRejected, Code: workflow.CodeInvalidTransition,
					Message: "appointment 5c1d2e3f… is IN_CONSULTATION (vitals entered by Infirmier Test at 10:42), not CHECKED_IN"},
				{Seq: 44, Status: StatusDeferred, Message: "Appointment 7e2f3a4b-1c2d-4e3f-9a4b-5c6d7e8f9a0b is SCHEDULED (planned for 2025-03-14 10:00), not CHECKED_IN.",
					WaitingFor: "waiting for check-in at reception", WaitTable: workflow.TableAppointments,
					WaitID: "7e2f3a4b-1c2d-4e3f-9a4b-5c6d7e8f9a0b", WaitState: "CHECKED_IN"},
			},
		},
		&Changes{
			RequestID:       "r-3",
			Cursor:          "f.144702.0.7c1e9a4b",
			LastMutationSeq: 42,
			Changes: []Change{
				{Table: workflow.TableAppointments, Op: OpUpsert, ID: "5c1d2e3f-0a1b-4c2d-8e3f-405162738495",
					Row: json.RawMessage(`{"id":"5c1d2e3f-0a1b-4c2d-8e3f-405162738495","date":"2025-03-14T09:00:00.000Z",` +
						`"motif":"Douleur thoracique","status":"CHECKED_IN","checkedInAt":"2025-03-14T09:26:53.120Z",` +
						`"createdAt":"2025-03-10T15:02:11.000Z","updatedAt":"2025-03-14T09:42:00.311Z",` +
						`"patientId":"9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d","doctorId":"3e4f5a6b-7c8d-4e9f-8a0b-1c2d3e4f5a6b"}`)},
				{Table: workflow.TableDocuments, Op: OpDelete, ID: "6f1e2d3c-4b5a-4697-8a8b-9c0d1e2f3a4b"},
			},
			More: false,
			Outcomes: []Outcome{
				{Seq: 39, ID: "2c5f39cb-3ab2-4e3d-994f-1127e4ddb538", Status: StatusApplied},
				{Seq: 41, ID: "3d6a4adc-4bc3-4f4e-a05a-2238f5eec649", Status: StatusRejected, Code: workflow.CodeInvalidTransition,
					Message: "Appointment 7e2f3a4b… is CANCELLED (cancelled at 09:40), not CHECKED_IN. The act had waited since 09:31 for check-in at reception."},
			},
			Resolutions: []Resolution{
				{ID: "2c9a7e10-5b3d-4f6e-9a1b-7c8d9e0f1a2b", Seq: 40, Kind: ResolutionReissued, ResolvedAt: at("2025-03-14T09:42:00.311Z"),
					ResolvedBy: "Infirmier Test", Note: "Re-issued as 7d1c6a52-3f0e-4b8a-9c1d-2e5f60718293/43.", ReissuedAs: "7d1c6a52-3f0e-4b8a-9c1d-2e5f60718293/43"},
				{ID: "8e7d6c5b-4a39-4281-9f0e-1d2c3b4a5968", Seq: 39, Kind: ResolutionClosed, ResolvedAt: at("2025-03-14T09:40:12Z"),
					ResolvedBy: "Admin Test", Note: "Patient left before vitals; nothing to redo."},
			},
		},
		&Poke{Head: "96518"},
		&Error{RequestID: "r-9", Code: workflow.CodeProtocolError, Message: "frame of 1048577 bytes exceeds the 1 MiB limit", Fatal: true},
	}
}

func goldenPath(f Frame) string { return filepath.Join("testdata", f.FrameType()+".json") }

func TestGolden(t *testing.T) {
	seen := map[string]bool{}
	for _, want := range goldenFrames() {
		seen[want.FrameType()] = true
		t.Run(want.FrameType(), func(t *testing.T) {
			got, err := Encode(want)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			path := goldenPath(want)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			golden, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, golden) {
				t.Fatalf("Encode differs from %s\n got: %s\nwant: %s", path, got, golden)
			}
			back, err := Decode(golden)
			if err != nil {
				t.Fatalf("Decode(%s): %v", path, err)
			}
			if !reflect.DeepEqual(back, want) {
				t.Fatalf("Decode(%s) = %#v\nwant %#v", path, back, want)
			}
		})
	}
	for typ := range frameSpecs {
		if !seen[typ] {
			t.Errorf("no golden frame for %q", typ)
		}
	}
}

// TestMarshalJSONMatchesEncode: frames written with plain json.Marshal are
// still frames. json.Marshal escapes "<" inside raw members, so the check is
// that both spellings decode to frames that Encode alike.
func TestMarshalJSONMatchesEncode(t *testing.T) {
	for _, f := range goldenFrames() {
		t.Run(f.FrameType(), func(t *testing.T) {
			b, err := json.Marshal(f)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode(json.Marshal(f)): %v", err)
			}
			got, err := Encode(back)
			if err != nil {
				t.Fatal(err)
			}
			want, err := Encode(f)
			if err != nil {
				t.Fatal(err)
			}
			var gotV, wantV any
			if json.Unmarshal(got, &gotV) != nil || json.Unmarshal(want, &wantV) != nil || !reflect.DeepEqual(gotV, wantV) {
				t.Fatalf("round trip through json.Marshal changed the frame:\n got %s\nwant %s", got, want)
			}
		})
	}
}
