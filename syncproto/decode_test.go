package syncproto

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"wardsync/workflow"
)

const (
	uuid1 = "0f8fad5b-d9cb-469f-a165-70867728950e"
	uuid2 = "1b4e28ba-2fa1-4d2c-883f-0016d3cca427"
)

// mut is a valid push mutation with the given seq; extra replaces or adds
// members ("key":value pairs appended last win, so tests use edit instead).
func mut(seq int64) string {
	return fmt.Sprintf(`{"seq":%d,"id":"%s","name":"patient.register","args":{"firstName":"Awa"},`+
		`"occurredAt":"2025-03-14T09:26:53Z","sessionId":"ses-1","signature":"c2ln","authorId":"u-1","prevHash":"%s","hash":"%s"}`,
		seq, uuid1, hashA, hashB)
}

// Two well-formed hashes: Decode checks their form, not the chain (the
// server does, knowing the device).
var (
	hashA = strings.Repeat("0a", 32)
	hashB = strings.Repeat("b1", 32)
)

// edit replaces the first occurrence of old in s, failing loudly in the
// table's construction when the base text changes under a test.
func edit(s, old, new string) string {
	if !strings.Contains(s, old) {
		panic(fmt.Sprintf("edit: %q not in %s", old, s))
	}
	return strings.Replace(s, old, new, 1)
}

const (
	baseHello   = `{"type":"hello","requestId":"r-1","protocol":2,"deviceId":"dev-1","cursor":"","lastMutationSeq":0,"pending":0}`
	basePull    = `{"type":"pull","requestId":"r-3","cursor":"c-1"}`
	baseReport  = `{"type":"report","pending":0}`
	baseWelcome = `{"type":"welcome","requestId":"r-1","serverTime":"2025-03-14T09:42:00Z","head":"h-1","lastMutationSeq":0,"roles":["NURSE"]}`
	baseResult  = `{"type":"pushResult","requestId":"r-2","results":[{"seq":1,"status":"applied"}]}`
	baseChanges = `{"type":"changes","requestId":"r-3","cursor":"c-2","lastMutationSeq":0,"changes":[],"more":false}`
	basePoke    = `{"type":"poke","head":"h-2"}`
	baseError   = `{"type":"error","code":"PROTOCOL_ERROR","message":"bad","fatal":false}`
	upsert      = `{"table":"patients","op":"upsert","id":"p-1","row":{"id":"p-1","firstName":"Awa"}}`
)

var basePush = `{"type":"push","requestId":"r-2","mutations":[` + mut(1) + `]}`

func pushOf(n int, first int64) string {
	ms := make([]string, n)
	for i := range ms {
		ms[i] = mut(first + int64(i))
	}
	return `{"type":"push","requestId":"r-2","mutations":[` + strings.Join(ms, ",") + `]}`
}

type acceptCase struct {
	name string
	in   string
	want Frame // nil: only acceptance is checked
}

func acceptCases() []acceptCase {
	return []acceptCase{
		{"hello minimal", baseHello,
			&Hello{RequestID: "r-1", Protocol: 2, DeviceID: "dev-1"}},
		{"hello with backlog",
			edit(baseHello, `"pending":0`, `"pending":3,"oldestPendingAt":"2025-03-14T10:26:53.123456+01:00"`),
			&Hello{RequestID: "r-1", Protocol: 2, DeviceID: "dev-1", Pending: 3,
				OldestPendingAt: atPtr("2025-03-14T09:26:53.123Z")}},
		{"hello null optional is absent", edit(baseHello, `"pending":0`, `"pending":0,"oldestPendingAt":null`),
			&Hello{RequestID: "r-1", Protocol: 2, DeviceID: "dev-1"}},
		{"members in any order, type last, with whitespace",
			" \n{ \"protocol\" : 2 ,\"requestId\":\"r-1\",\"deviceId\":\"dev-1\",\t\"cursor\":\"\",\"pending\":0,\"lastMutationSeq\":0,\"type\":\"hello\"}\r\n",
			&Hello{RequestID: "r-1", Protocol: 2, DeviceID: "dev-1"}},
		{"escaped member names", edit(baseHello, `"requestId"`, `"request\u0049d"`),
			&Hello{RequestID: "r-1", Protocol: 2, DeviceID: "dev-1"}},
		{"push", basePush,
			&Push{RequestID: "r-2", Mutations: []Mutation{{Seq: 1, ID: uuid1, Name: "patient.register",
				Args: json.RawMessage(`{"firstName":"Awa"}`), OccurredAt: at("2025-03-14T09:26:53Z"), SessionID: "ses-1", Signature: "c2ln", AuthorID: "u-1", PrevHash: hashA, Hash: hashB}}}},
		{"push args are compacted", edit(basePush, `"args":{"firstName":"Awa"}`, `"args": { "firstName" : "Awa" }`),
			&Push{RequestID: "r-2", Mutations: []Mutation{{Seq: 1, ID: uuid1, Name: "patient.register",
				Args: json.RawMessage(`{"firstName":"Awa"}`), OccurredAt: at("2025-03-14T09:26:53Z"), SessionID: "ses-1", Signature: "c2ln", AuthorID: "u-1", PrevHash: hashA, Hash: hashB}}}},
		{"push of 1000", pushOf(MaxPushMutations, 7), nil},
		{"pull", basePull, &Pull{RequestID: "r-3", Cursor: "c-1"}},
		{"pull with limit and empty cursor", `{"type":"pull","requestId":"r-3","cursor":"","limit":1000}`,
			&Pull{RequestID: "r-3", Limit: 1000}},
		{"report", baseReport, &Report{}},
		{"report with request id and backlog",
			`{"type":"report","requestId":"r-7","pending":1,"oldestPendingAt":"2025-03-14T09:26:53Z"}`,
			&Report{RequestID: "r-7", Pending: 1, OldestPendingAt: atPtr("2025-03-14T09:26:53Z")}},
		{"welcome", baseWelcome,
			&Welcome{RequestID: "r-1", ServerTime: at("2025-03-14T09:42:00Z"), Head: "h-1", Roles: []workflow.Role{workflow.RoleNurse}}},
		{"pushResult", baseResult, &PushResult{RequestID: "r-2", Results: []MutationResult{{Seq: 1, Status: StatusApplied}}}},
		{"pushResult duplicate repeating a rejection",
			edit(baseResult, `"status":"applied"`, `"status":"duplicate","code":"VALIDATION_FAILED","message":"too hot","field":"vitals.temperature"`),
			&PushResult{RequestID: "r-2", Results: []MutationResult{{Seq: 1, Status: StatusDuplicate,
				Code: workflow.CodeValidationFailed, Message: "too hot", Field: "vitals.temperature"}}}},
		{"changes empty page", baseChanges,
			&Changes{RequestID: "r-3", Cursor: "c-2", Changes: []Change{}}},
		{"changes upsert and delete with null row, progress",
			edit(baseChanges, `"changes":[]`, `"changes":[`+upsert+`,{"table":"users","op":"delete","id":"u-1","row":null}],"resync":true,"total":10,"sent":2`),
			&Changes{RequestID: "r-3", Cursor: "c-2", Resync: true, Total: 10, Sent: 2, Changes: []Change{
				{Table: "patients", Op: OpUpsert, ID: "p-1", Row: json.RawMessage(`{"id":"p-1","firstName":"Awa"}`)},
				{Table: "users", Op: OpDelete, ID: "u-1"}}}},
		{"poke", basePoke, &Poke{Head: "h-2"}},
		{"error", baseError, &Error{Code: workflow.CodeProtocolError, Message: "bad"}},
		{"error with unknown future code", edit(baseError, `"PROTOCOL_ERROR"`, `"RATE_LIMITED_2"`),
			&Error{Code: "RATE_LIMITED_2", Message: "bad"}},
		// The nesting limit counts the frame itself: frame, array, element, row.
		{"row nested just within the limit", edit(baseChanges, `[]`, `[{"table":"patients","op":"upsert","id":"p-1","row":{"a":`+
			strings.Repeat("[", MaxDepth-4)+strings.Repeat("]", MaxDepth-4)+`}}]`), nil},
		{"exactly 1 MiB", baseChanges[:len(baseChanges)-1] + strings.Repeat(" ", MaxFrameBytes-len(baseChanges)) + "}", nil},
	}
}

func TestDecodeAccepts(t *testing.T) {
	for _, tt := range acceptCases() {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode([]byte(tt.in))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if tt.want != nil && !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Decode = %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

type rejectCase struct {
	name  string
	in    string
	code  workflow.Code
	msg   string
	field string
}

func rejectCases() []rejectCase {
	deep := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
	huge := `{"type":"poke","head":"` + strings.Repeat("a", MaxFrameBytes) + `"}`
	return []rejectCase{
		// Envelope.
		{"too large", huge, workflow.CodeProtocolError, fmt.Sprintf("frame of %d bytes exceeds the 1 MiB limit", len(huge)), ""},
		{"one byte too large", huge[len(huge)-MaxFrameBytes-1:], workflow.CodeProtocolError, "frame of 1048577 bytes exceeds the 1 MiB limit", ""},
		{"invalid UTF-8", "{\"type\":\"poke\",\"head\":\"h\xff\"}", workflow.CodeProtocolError, "not valid UTF-8", ""},
		{"empty", "  ", workflow.CodeProtocolError, "frame is empty", ""},
		{"not an object", `["hello"]`, workflow.CodeProtocolError, "must be a JSON object", ""},
		{"bad JSON", `{"type":"poke","head":"h"`, workflow.CodeProtocolError, "not valid JSON: unexpected end", ""},
		{"trailing comma", `{"type":"poke","head":"h",}`, workflow.CodeProtocolError, "expected a member name at byte 26", ""},
		{"trailing data", basePoke + `{}`, workflow.CodeProtocolError, "unexpected data after the frame object", ""},
		{"single quotes", `{'type':'poke'}`, workflow.CodeProtocolError, "expected a member name", ""},
		{"bad escape", `{"type":"poke","head":"\x41"}`, workflow.CodeProtocolError, "invalid escape", ""},
		{"raw control character", "{\"type\":\"poke\",\"head\":\"a\tb\"}", workflow.CodeProtocolError, "control character", ""},
		{"leading zero", `{"type":"report","pending":01}`, workflow.CodeProtocolError, "expected ',' or '}'", ""},
		{"bare word", `{"type":"report","pending":nope}`, workflow.CodeProtocolError, `unexpected character "n"`, ""},
		{"too deep", edit(basePush, `"args":{"firstName":"Awa"}`, `"args":{"a":`+deep+`}`),
			workflow.CodeProtocolError, "deeper than 64 levels", ""},
		{"duplicate member", `{"type":"poke","head":"h","head":"i"}`, workflow.CodeProtocolError, `repeats the member name "head"`, ""},
		{"duplicate member by escape", `{"type":"poke","head":"h","h\u0065ad":"i"}`, workflow.CodeProtocolError, `repeats the member name "head"`, ""},
		{"duplicate type", `{"type":"poke","type":"pull","head":"h"}`, workflow.CodeProtocolError, `repeats the member name "type"`, ""},
		{"duplicate inside args", edit(basePush, `"args":{"firstName":"Awa"}`, `"args":{"firstName":"Awa","firstName":"Eve"}`),
			workflow.CodeProtocolError, `repeats the member name "firstName"`, ""},
		// A row's names are checked in a small array up to 32 members,
		// in a map beyond: a repeat is refused on both sides of that.
		{"duplicate inside a row of 32 members", edit(basePush, `"args":{"firstName":"Awa"}`, `"args":{`+members(31)+`,"m7":0}`),
			workflow.CodeProtocolError, `repeats the member name "m7"`, ""},
		{"duplicate inside a row of 41 members", edit(basePush, `"args":{"firstName":"Awa"}`, `"args":{`+members(40)+`,"m3":0}`),
			workflow.CodeProtocolError, `repeats the member name "m3"`, ""},
		{"duplicate past 32 members", edit(basePush, `"args":{"firstName":"Awa"}`, `"args":{`+members(40)+`,"m36":0}`),
			workflow.CodeProtocolError, `repeats the member name "m36"`, ""},
		{"no type", `{"head":"h"}`, workflow.CodeProtocolError, `frame has no "type"`, ""},
		{"type not a string", `{"type":7,"head":"h"}`, workflow.CodeProtocolError, `"type" must be a string, not a number`, ""},
		{"unknown type", `{"type":"subscribe","head":"h"}`, workflow.CodeProtocolError, `unknown frame type "subscribe"`, ""},
		{"type is case-sensitive", `{"type":"Poke","head":"h"}`, workflow.CodeProtocolError, `unknown frame type "Poke"`, ""},

		// hello.
		{"hello wrong version", edit(baseHello, `"protocol":2`, `"protocol":3`),
			workflow.CodeProtocolError, "protocol version 3 is not supported; this server speaks 2", ""},
		{"hello version 1", edit(baseHello, `"protocol":2`, `"protocol":1`),
			workflow.CodeProtocolError, "protocol version 1 (acts carrying the author's bearer token) is no longer supported; this server speaks 2 (signed acts, device proof): update the workstation", ""},
		{"hello version as string", edit(baseHello, `"protocol":2`, `"protocol":"2"`),
			workflow.CodeProtocolError, "hello.protocol must be an integer, not a string", ""},
		{"hello unknown field", edit(baseHello, `"pending":0`, `"pending":0,"token":"x"`),
			workflow.CodeProtocolError, `hello has unknown field "token"`, ""},
		{"hello field in wrong case", edit(baseHello, `"deviceId"`, `"deviceID"`),
			workflow.CodeProtocolError, `hello has unknown field "deviceID"`, ""},
		{"hello field of another frame", edit(baseHello, `"pending":0`, `"pending":0,"head":"h"`),
			workflow.CodeProtocolError, `hello has unknown field "head"`, ""},
		{"hello missing cursor", edit(baseHello, `"cursor":"",`, ``),
			workflow.CodeProtocolError, "hello.cursor is missing", ""},
		{"hello missing lastMutationSeq", edit(baseHello, `"lastMutationSeq":0,`, ``),
			workflow.CodeProtocolError, "hello.lastMutationSeq is missing", ""},
		{"hello null required", edit(baseHello, `"pending":0`, `"pending":null`),
			workflow.CodeProtocolError, "hello.pending must be an integer, not null", ""},
		{"hello fractional seq", edit(baseHello, `"lastMutationSeq":0`, `"lastMutationSeq":1.5`),
			workflow.CodeValidationFailed, "hello.lastMutationSeq must be an integer, got 1.5", "lastMutationSeq"},
		{"hello exponent seq", edit(baseHello, `"lastMutationSeq":0`, `"lastMutationSeq":1e3`),
			workflow.CodeValidationFailed, "must be an integer, got 1e3", "lastMutationSeq"},
		{"hello seq overflow", edit(baseHello, `"lastMutationSeq":0`, `"lastMutationSeq":9223372036854775808`),
			workflow.CodeValidationFailed, "hello.lastMutationSeq is out of range", "lastMutationSeq"},
		{"hello negative seq", edit(baseHello, `"lastMutationSeq":0`, `"lastMutationSeq":-1`),
			workflow.CodeValidationFailed, "hello.lastMutationSeq must not be negative, got -1", "lastMutationSeq"},
		{"hello empty request id", edit(baseHello, `"requestId":"r-1"`, `"requestId":""`),
			workflow.CodeValidationFailed, "hello.requestId must not be empty", "requestId"},
		{"hello request id with space", edit(baseHello, `"requestId":"r-1"`, `"requestId":"r 1"`),
			workflow.CodeValidationFailed, "hello.requestId must be printable ASCII", "requestId"},
		{"hello long request id", edit(baseHello, `"requestId":"r-1"`, `"requestId":"`+strings.Repeat("r", MaxIDBytes+1)+`"`),
			workflow.CodeValidationFailed, "hello.requestId is 129 bytes long; at most 128", "requestId"},
		{"hello empty device", edit(baseHello, `"deviceId":"dev-1"`, `"deviceId":""`),
			workflow.CodeValidationFailed, "hello.deviceId must not be empty", "deviceId"},
		{"hello long cursor", edit(baseHello, `"cursor":""`, `"cursor":"`+strings.Repeat("c", MaxCursorBytes+1)+`"`),
			workflow.CodeValidationFailed, "hello.cursor is 1025 bytes long", "cursor"},
		{"hello pending without oldest", edit(baseHello, `"pending":0`, `"pending":2`),
			workflow.CodeValidationFailed, "hello.oldestPendingAt is required when pending is 2", "oldestPendingAt"},
		{"hello oldest without pending", edit(baseHello, `"pending":0`, `"pending":0,"oldestPendingAt":"2025-03-14T09:26:53Z"`),
			workflow.CodeValidationFailed, "hello.oldestPendingAt must be omitted when pending is 0", "oldestPendingAt"},
		{"hello oldest not a time", edit(baseHello, `"pending":0`, `"pending":1,"oldestPendingAt":"yesterday"`),
			workflow.CodeValidationFailed, `hello.oldestPendingAt must be an RFC 3339 time such as "2025-03-14T09:26:53Z", got "yesterday"`, "oldestPendingAt"},
		{"hello negative pending", edit(baseHello, `"pending":0`, `"pending":-2`),
			workflow.CodeValidationFailed, "hello.pending must not be negative", "pending"},

		// push.
		{"push no mutations", `{"type":"push","requestId":"r-2","mutations":[]}`,
			workflow.CodeProtocolError, "push carries no mutations; it must carry 1 to 1000", ""},
		{"push null mutations", `{"type":"push","requestId":"r-2","mutations":null}`,
			workflow.CodeProtocolError, "push.mutations must be an array of objects, not null", ""},
		{"push too many", pushOf(MaxPushMutations+1, 1),
			workflow.CodeProtocolError, "push carries 1001 mutations; at most 1000 are allowed", ""},
		{"push mutation not an object", `{"type":"push","requestId":"r-2","mutations":[1]}`,
			workflow.CodeProtocolError, "push.mutations[0] must be an object, not a number", ""},
		{"push unknown mutation field", edit(basePush, `"seq":1`, `"seq":1,"author":"x"`),
			workflow.CodeProtocolError, `push.mutations[0] has unknown field "author"`, ""},
		{"push missing occurredAt", edit(basePush, `"occurredAt":"2025-03-14T09:26:53Z",`, ``),
			workflow.CodeProtocolError, "push.mutations[0].occurredAt is missing", ""},
		{"push missing args", edit(basePush, `"args":{"firstName":"Awa"},`, ``),
			workflow.CodeProtocolError, "push.mutations[0].args is missing", ""},
		{"push args not an object", edit(basePush, `"args":{"firstName":"Awa"}`, `"args":["Awa"]`),
			workflow.CodeProtocolError, "push.mutations[0].args must be an object, not an array", ""},
		{"push seq zero", edit(basePush, `"seq":1`, `"seq":0`),
			workflow.CodeValidationFailed, "push.mutations[0].seq must be a positive integer, got 0", "mutations[0].seq"},
		{"push seqs not consecutive", `{"type":"push","requestId":"r-2","mutations":[` + mut(4) + `,` + mut(6) + `]}`,
			workflow.CodeProtocolError, "push.mutations[1].seq is 6 but must be 5: the seqs of a push are consecutive", ""},
		{"push seqs decreasing", `{"type":"push","requestId":"r-2","mutations":[` + mut(4) + `,` + mut(3) + `]}`,
			workflow.CodeProtocolError, "push.mutations[1].seq is 3 but must be 5", ""},
		{"push id not a UUID", edit(basePush, uuid1, "m-1"),
			workflow.CodeValidationFailed, `push.mutations[0].id must be a lowercase UUID`, "mutations[0].id"},
		{"push id uppercase", edit(basePush, uuid1, strings.ToUpper(uuid1)),
			workflow.CodeValidationFailed, `push.mutations[0].id must be a lowercase UUID`, "mutations[0].id"},
		{"push empty name", edit(basePush, `"name":"patient.register"`, `"name":""`),
			workflow.CodeValidationFailed, "push.mutations[0].name must not be empty", "mutations[0].name"},
		{"push signature with a space", edit(basePush, `"signature":"c2ln"`, `"signature":"c2 ln"`),
			workflow.CodeValidationFailed, `push.mutations[0].signature must be printable ASCII without spaces, got "c2 ln"`, "mutations[0].signature"},
		{"push v1 author token", edit(basePush, `"sessionId":"ses-1"`, `"authorToken":"tok-1"`),
			workflow.CodeProtocolError, `has unknown field "authorToken"`, ""},
		{"push missing hash", edit(basePush, `,"hash":"`+hashB+`"`, ``),
			workflow.CodeProtocolError, "push.mutations[0].hash is missing", ""},
		{"push missing prevHash", edit(basePush, `"prevHash":"`+hashA+`",`, ``),
			workflow.CodeProtocolError, "push.mutations[0].prevHash is missing", ""},
		{"push empty authorId", edit(basePush, `"authorId":"u-1"`, `"authorId":""`),
			workflow.CodeValidationFailed, "push.mutations[0].authorId must not be empty", "mutations[0].authorId"},
		{"push hash uppercase", edit(basePush, hashB, strings.ToUpper(hashB)),
			workflow.CodeValidationFailed, `push.mutations[0].hash must be a SHA-256 hash in 64 lowercase hex digits, got "` + strings.ToUpper(hashB) + `"`, "mutations[0].hash"},
		{"push prevHash short", edit(basePush, hashA, "0a0a"),
			workflow.CodeValidationFailed, `push.mutations[0].prevHash must be a SHA-256 hash in 64 lowercase hex digits, got "0a0a"`, "mutations[0].prevHash"},
		{"welcome chainHead not hex", edit(baseWelcome, `"lastMutationSeq":0`, `"lastMutationSeq":0,"chainHead":"x"`),
			workflow.CodeValidationFailed, `welcome.chainHead must be a SHA-256 hash in 64 lowercase hex digits, got "x"`, "chainHead"},
		{"push occurredAt not RFC 3339", edit(basePush, `2025-03-14T09:26:53Z`, `2025-03-14 09:26:53`),
			workflow.CodeValidationFailed, "push.mutations[0].occurredAt must be an RFC 3339 time", "mutations[0].occurredAt"},
		{"push occurredAt zero", edit(basePush, `2025-03-14T09:26:53Z`, `0001-01-01T00:00:00Z`),
			workflow.CodeValidationFailed, "push.mutations[0].occurredAt must be a time between 1970 and 9999", "mutations[0].occurredAt"},
		{"push error in a later mutation", `{"type":"push","requestId":"r-2","mutations":[` + mut(1) + `,` +
			edit(mut(2), `"name":"patient.register"`, `"name":"bad name"`) + `]}`,
			workflow.CodeValidationFailed, "push.mutations[1].name must be printable ASCII", "mutations[1].name"},

		// pull.
		{"pull missing cursor", `{"type":"pull","requestId":"r-3"}`, workflow.CodeProtocolError, "pull.cursor is missing", ""},
		{"pull limit too high", edit(basePull, `"cursor":"c-1"`, `"cursor":"c-1","limit":1001`),
			workflow.CodeValidationFailed, "pull.limit must be between 1 and 1000, or omitted, got 1001", "limit"},
		{"pull negative limit", edit(basePull, `"cursor":"c-1"`, `"cursor":"c-1","limit":-1`),
			workflow.CodeValidationFailed, "pull.limit must be between 1 and 1000", "limit"},
		{"pull without request id", `{"type":"pull","cursor":""}`, workflow.CodeProtocolError, "pull.requestId is missing", ""},

		// report.
		{"report missing pending", `{"type":"report"}`, workflow.CodeProtocolError, "report.pending is missing", ""},
		{"report bad request id", `{"type":"report","requestId":"a b","pending":0}`,
			workflow.CodeValidationFailed, "report.requestId must be printable ASCII", "requestId"},

		// welcome.
		{"welcome no roles", edit(baseWelcome, `["NURSE"]`, `[]`),
			workflow.CodeValidationFailed, "welcome.roles must list at least one role", "roles"},
		{"welcome unknown role", edit(baseWelcome, `["NURSE"]`, `["NURSE","JANITOR"]`),
			workflow.CodeValidationFailed, `welcome.roles[1] must be one of [ADMIN DOCTOR BIOLOGIST NURSE SECRETARY], got "JANITOR"`, "roles[1]"},
		{"welcome repeated role", edit(baseWelcome, `["NURSE"]`, `["NURSE","NURSE"]`),
			workflow.CodeValidationFailed, "welcome.roles[1] repeats the role NURSE", "roles[1]"},
		{"welcome role not a string", edit(baseWelcome, `["NURSE"]`, `["NURSE",3]`),
			workflow.CodeProtocolError, "welcome.roles[1] must be a string, not a number", ""},
		{"welcome empty head", edit(baseWelcome, `"head":"h-1"`, `"head":""`),
			workflow.CodeValidationFailed, "welcome.head must not be empty", "head"},
		{"welcome missing server time", edit(baseWelcome, `"serverTime":"2025-03-14T09:42:00Z",`, ``),
			workflow.CodeProtocolError, "welcome.serverTime is missing", ""},

		// pushResult.
		{"pushResult no results", `{"type":"pushResult","requestId":"r-2","results":[]}`,
			workflow.CodeProtocolError, "pushResult carries no results", ""},
		{"pushResult unknown status", edit(baseResult, `"applied"`, `"ignored"`),
			workflow.CodeValidationFailed, `pushResult.results[0].status must be "applied", "rejected", "deferred" or "duplicate", got "ignored"`, "results[0].status"},
		{"pushResult rejected without code", edit(baseResult, `"applied"`, `"rejected","message":"no"`),
			workflow.CodeValidationFailed, `pushResult.results[0].code must be a code such as "PROTOCOL_ERROR", got ""`, "results[0].code"},
		{"pushResult rejected without message", edit(baseResult, `"applied"`, `"rejected","code":"FORBIDDEN"`),
			workflow.CodeValidationFailed, "pushResult.results[0].message must say why the mutation was rejected", "results[0].message"},
		{"pushResult applied with code", edit(baseResult, `"applied"`, `"applied","code":"FORBIDDEN"`),
			workflow.CodeValidationFailed, "pushResult.results[0].code must be omitted", "results[0].code"},
		{"pushResult lower-case code", edit(baseResult, `"applied"`, `"rejected","code":"forbidden","message":"no"`),
			workflow.CodeValidationFailed, `got "forbidden"`, "results[0].code"},
		{"pushResult duplicate with half a rejection", edit(baseResult, `"applied"`, `"duplicate","code":"FORBIDDEN"`),
			workflow.CodeValidationFailed, "must repeat the first rejection's message", "results[0].message"},
		{"pushResult deferred without waitingFor", edit(baseResult, `"applied"`, `"deferred","waitTable":"appointments","waitId":"a-1","waitState":"CHECKED_IN"`),
			workflow.CodeValidationFailed, "pushResult.results[0].waitingFor must say what a deferred act waits for", "results[0].waitingFor"},
		{"pushResult deferred on an unknown table", edit(baseResult, `"applied"`, `"deferred","waitingFor":"waiting","waitTable":"beds","waitId":"a-1","waitState":"CHECKED_IN"`),
			workflow.CodeValidationFailed, `pushResult.results[0].waitTable must be one of [users patients appointments prescriptions results documents], got "beds"`, "results[0].waitTable"},
		{"pushResult deferred with a code", edit(baseResult, `"applied"`, `"deferred","code":"INVALID_TRANSITION","waitingFor":"waiting","waitTable":"appointments","waitId":"a-1","waitState":"CHECKED_IN"`),
			workflow.CodeValidationFailed, "pushResult.results[0].code must be omitted, with field, when status is deferred: the act is not refused", "results[0].code"},
		{"pushResult applied with a wait", edit(baseResult, `"applied"`, `"applied","waitingFor":"waiting"`),
			workflow.CodeValidationFailed, "pushResult.results[0].waitingFor must be omitted, with waitTable, waitId and waitState, unless the act is deferred", "results[0].waitingFor"},
		{"pushResult seqs out of order",
			`{"type":"pushResult","requestId":"r-2","results":[{"seq":2,"status":"applied"},{"seq":1,"status":"applied"}]}`,
			workflow.CodeProtocolError, "pushResult.results[1].seq is 1 but must be 3", ""},

		// changes.
		{"changes too many", edit(baseChanges, `"changes":[]`, `"changes":`+listOf(`{"table":"users","op":"delete","id":"u-1"}`, MaxPullLimit+1)),
			workflow.CodeProtocolError, "changes carries 1001 changes; at most 1000 are allowed", ""},
		{"changes too many outcomes", edit(baseChanges, `"more":false`, `"more":false,"outcomes":`+listOf(`{"seq":1,"id":"m-1","status":"applied"}`, MaxPullLimit+1)),
			workflow.CodeProtocolError, "changes carries 1001 outcomes; at most 1000 are allowed", ""},
		{"changes too many resolutions", edit(baseChanges, `"more":false`, `"more":false,"resolutions":`+listOf(`{"id":"8e7d6c5b-4a39-4281-9f0e-1d2c3b4a5968","seq":39,"kind":"closed","resolvedAt":"2025-03-14T09:40:12Z","resolvedBy":"Admin Test","note":"x"}`, MaxPullLimit+1)),
			workflow.CodeProtocolError, "changes carries 1001 resolutions; at most 1000 are allowed", ""},
		{"changes outcome deferred", edit(baseChanges, `"more":false`, `"more":false,"outcomes":[{"seq":1,"id":"m-1","status":"deferred"}]`),
			workflow.CodeValidationFailed, `changes.outcomes[0].status must be "applied" or "rejected", got "deferred"`, "outcomes[0].status"},
		{"changes outcome rejected without code", edit(baseChanges, `"more":false`, `"more":false,"outcomes":[{"seq":1,"id":"m-1","status":"rejected","message":"no"}]`),
			workflow.CodeValidationFailed, `changes.outcomes[0].code must be a code such as "PROTOCOL_ERROR", got ""`, "outcomes[0].code"},
		{"changes outcome without id", edit(baseChanges, `"more":false`, `"more":false,"outcomes":[{"seq":1,"status":"applied"}]`),
			workflow.CodeProtocolError, "changes.outcomes[0].id is missing", ""},
		{"changes outcome seq zero", edit(baseChanges, `"more":false`, `"more":false,"outcomes":[{"seq":0,"id":"m-1","status":"applied"}]`),
			workflow.CodeValidationFailed, "changes.outcomes[0].seq must be a positive integer, got 0", "outcomes[0].seq"},
		{"changes missing more", edit(baseChanges, `,"more":false`, ``), workflow.CodeProtocolError, "changes.more is missing", ""},
		{"changes more not a boolean", edit(baseChanges, `"more":false`, `"more":0`),
			workflow.CodeProtocolError, "changes.more must be true or false, not a number", ""},
		{"changes empty cursor", edit(baseChanges, `"cursor":"c-2"`, `"cursor":""`),
			workflow.CodeValidationFailed, "changes.cursor must not be empty", "cursor"},
		{"changes unknown table", edit(baseChanges, `[]`, `[`+edit(upsert, `"patients"`, `"sessions"`)+`]`),
			workflow.CodeValidationFailed, `changes.changes[0].table must be one of [users patients appointments prescriptions results documents], got "sessions"`, "changes[0].table"},
		{"changes unknown op", edit(baseChanges, `[]`, `[`+edit(upsert, `"upsert"`, `"insert"`)+`]`),
			workflow.CodeValidationFailed, `changes.changes[0].op must be "upsert" or "delete", got "insert"`, "changes[0].op"},
		{"changes upsert without row", edit(baseChanges, `[]`, `[{"table":"patients","op":"upsert","id":"p-1"}]`),
			workflow.CodeValidationFailed, "changes.changes[0].row must be a JSON object", "changes[0].row"},
		{"changes row not an object", edit(baseChanges, `[]`, `[{"table":"patients","op":"upsert","id":"p-1","row":"p-1"}]`),
			workflow.CodeProtocolError, "changes.changes[0].row must be an object, not a string", ""},
		{"changes delete with row", edit(baseChanges, `[]`, `[`+edit(upsert, `"upsert"`, `"delete"`)+`]`),
			workflow.CodeValidationFailed, "changes.changes[0].row must be omitted for a delete", "changes[0].row"},
		{"changes sent above total", edit(baseChanges, `"more":false`, `"more":true,"total":3,"sent":4`),
			workflow.CodeValidationFailed, "changes.sent is 4 but total is only 3", "sent"},
		{"row one level too deep", edit(baseChanges, `[]`, `[{"table":"patients","op":"upsert","id":"p-1","row":{"a":`+
			strings.Repeat("[", MaxDepth-3)+strings.Repeat("]", MaxDepth-3)+`}}]`), workflow.CodeProtocolError, "deeper than 64 levels", ""},
		{"changes deep row still limited", edit(baseChanges, `[]`, `[{"table":"patients","op":"upsert","id":"p-1","row":{"a":`+deep+`}}]`),
			workflow.CodeProtocolError, "deeper than 64 levels", ""},

		// poke and error.
		{"poke empty head", `{"type":"poke","head":""}`, workflow.CodeValidationFailed, "poke.head must not be empty", "head"},
		{"poke with request id", `{"type":"poke","head":"h","requestId":"r"}`, workflow.CodeProtocolError, `poke has unknown field "requestId"`, ""},
		{"error without fatal", `{"type":"error","code":"PROTOCOL_ERROR","message":"bad"}`, workflow.CodeProtocolError, "error.fatal is missing", ""},
		{"error empty message", edit(baseError, `"bad"`, `""`), workflow.CodeValidationFailed, "error.message must not be empty", "message"},
	}
}

func TestDecodeRejects(t *testing.T) {
	for _, tt := range rejectCases() {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Decode([]byte(tt.in))
			if err == nil {
				t.Fatalf("Decode accepted %s as %#v", clip(tt.in), f)
			}
			if f != nil {
				t.Errorf("Decode returned a frame with its error")
			}
			r, ok := workflow.AsRejection(err)
			if !ok {
				t.Fatalf("error %T %v is not a *workflow.Rejection", err, err)
			}
			if r.Code != tt.code || !strings.Contains(r.Message, tt.msg) || r.Field != tt.field {
				t.Fatalf("got %s (field %q)\nwant %s containing %q (field %q)", r, r.Field, tt.code, tt.msg, tt.field)
			}
		})
	}
}

func TestDirection(t *testing.T) {
	for _, f := range goldenFrames() {
		t.Run(f.FrameType(), func(t *testing.T) {
			b, err := Encode(f)
			if err != nil {
				t.Fatal(err)
			}
			_, fromClient := DecodeFromClient(b)
			_, fromServer := DecodeFromServer(b)
			if (fromClient == nil) == (fromServer == nil) {
				t.Fatalf("exactly one direction must accept %s: client err %v, server err %v", f.FrameType(), fromClient, fromServer)
			}
			wrong := fromClient
			if wrong == nil {
				wrong = fromServer
			}
			if r, _ := workflow.AsRejection(wrong); r == nil || r.Code != workflow.CodeProtocolError || !strings.Contains(r.Message, f.FrameType()+" is a") {
				t.Fatalf("wrong-direction error = %v", wrong)
			}
		})
	}
}

func TestEncodeRejects(t *testing.T) {
	var nilHello *Hello
	tests := []struct {
		name string
		f    Frame
		code workflow.Code
		msg  string
	}{
		{"nil", nil, workflow.CodeProtocolError, "cannot encode a nil frame"},
		{"typed nil", nilHello, workflow.CodeProtocolError, "cannot encode a nil frame"},
		{"hello wrong version", &Hello{RequestID: "r", DeviceID: "d"}, workflow.CodeProtocolError, "protocol version 0 is not supported"},
		{"push nil args", &Push{RequestID: "r", Mutations: []Mutation{{Seq: 1, ID: uuid1, Name: "n",
			OccurredAt: at("2025-01-01T00:00:00Z"), SessionID: "t"}}}, workflow.CodeValidationFailed, "push.mutations[0].args must be a JSON object"},
		{"push invalid args", &Push{RequestID: "r", Mutations: []Mutation{{Seq: 1, ID: uuid1, Name: "n", Args: json.RawMessage(`{"a":}`),
			OccurredAt: at("2025-01-01T00:00:00Z"), SessionID: "t"}}}, workflow.CodeValidationFailed, "push.mutations[0].args must be a valid JSON object"},
		{"push args with repeated names", &Push{RequestID: "r", Mutations: []Mutation{{Seq: 1, ID: uuid1, Name: "n",
			Args: json.RawMessage(`{"a":1,"a":2}`), OccurredAt: at("2025-01-01T00:00:00Z"), SessionID: "t"}}},
			workflow.CodeValidationFailed, `repeats the member name "a"`},
		{"push args array", &Push{RequestID: "r", Mutations: []Mutation{{Seq: 1, ID: uuid1, Name: "n", Args: json.RawMessage(`[]`),
			OccurredAt: at("2025-01-01T00:00:00Z"), SessionID: "t"}}}, workflow.CodeValidationFailed, "args must be a JSON object"},
		{"push unset time", &Push{RequestID: "r", Mutations: []Mutation{{Seq: 1, ID: uuid1, Name: "n", Args: json.RawMessage(`{}`),
			SessionID: "t"}}}, workflow.CodeValidationFailed, "occurredAt must be a time between 1970 and 9999"},
		{"changes too large", &Changes{RequestID: "r", Cursor: "c", Changes: []Change{{Table: "results", Op: OpUpsert, ID: "x",
			Row: json.RawMessage(`{"text":"` + strings.Repeat("x", MaxFrameBytes) + `"}`)}}}, workflow.CodeProtocolError, "exceeds the 1 MiB limit"},
		{"welcome nil roles", &Welcome{RequestID: "r", ServerTime: at("2025-01-01T00:00:00Z"), Head: "h"}, workflow.CodeValidationFailed, "at least one role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Encode(tt.f)
			if err == nil {
				t.Fatalf("Encode accepted it: %s", clip(string(b)))
			}
			r, ok := workflow.AsRejection(err)
			if !ok || r.Code != tt.code || !strings.Contains(r.Message, tt.msg) {
				t.Fatalf("got %v, want %s containing %q", err, tt.code, tt.msg)
			}
		})
	}
}

func TestEncodeEmptyChanges(t *testing.T) {
	b, err := Encode(&Changes{RequestID: "r", Cursor: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"type":"changes","requestId":"r","cursor":"c","lastMutationSeq":0,"changes":[],"more":false}`; string(b) != want {
		t.Fatalf("got %s\nwant %s", b, want)
	}
}

func TestMutationValidate(t *testing.T) {
	m := Mutation{Seq: 1, ID: uuid1, Name: "patient.register", Args: json.RawMessage(`{}`),
		OccurredAt: at("2025-01-01T00:00:00Z"), SessionID: "t", AuthorID: "u-1", PrevHash: hashA, Hash: hashB}
	if err := m.Validate(); err != nil {
		t.Fatalf("valid mutation: %v", err)
	}
	m.ID = "00000000-0000-0000-0000-000000000000"
	err := m.Validate()
	r, _ := workflow.AsRejection(err)
	if r == nil || r.Code != workflow.CodeValidationFailed || r.Field != "id" || !strings.HasPrefix(r.Message, "id must be a lowercase UUID") {
		t.Fatalf("nil UUID: got %v", err)
	}
}

func TestErrorFrame(t *testing.T) {
	tests := []struct {
		name      string
		requestID string
		err       error
		want      Error
	}{
		{"rejection", "r-1", workflow.Reject(workflow.CodeUnauthenticated, "session expired"), Error{RequestID: "r-1", Code: workflow.CodeUnauthenticated, Message: "session expired"}},
		{"wrapped rejection", "r-1", fmt.Errorf("hello: %w", workflow.Reject(workflow.CodeForbidden, "device revoked")), Error{RequestID: "r-1", Code: workflow.CodeForbidden, Message: "device revoked"}},
		{"internal error hides its text", "r-1", errors.New("pq: connection refused to 10.0.0.3"), Error{RequestID: "r-1", Code: workflow.CodeInternal, Message: "internal server error"}},
		{"nil error", "", nil, Error{Code: workflow.CodeInternal, Message: "internal server error"}},
		{"malformed request id is dropped", "r 1", workflow.Reject(workflow.CodeProtocolError, "bad"), Error{Code: workflow.CodeProtocolError, Message: "bad"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, fatal := range []bool{false, true} {
				got := ErrorFrame(tt.requestID, tt.err, fatal)
				want := tt.want
				want.Fatal = fatal
				if *got != want {
					t.Fatalf("got %#v, want %#v", *got, want)
				}
				if _, err := Encode(got); err != nil {
					t.Fatalf("ErrorFrame built a frame Encode refuses: %v", err)
				}
			}
		})
	}
	r := (&Error{Code: workflow.CodeClockSkew, Message: "too far ahead"}).Rejection()
	if r.Code != workflow.CodeClockSkew || r.Message != "too far ahead" {
		t.Fatalf("Rejection() = %v", r)
	}
}

func TestPeekRequestID(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"refused push keeps its id", edit(basePush, `"seq":1`, `"seq":0`), "r-2"},
		{"unknown type", `{"type":"subscribe","requestId":"r-5"}`, "r-5"},
		{"bad JSON", `{"type":"push","requestId":"r-2"`, ""},
		{"no id", `{"type":"push"}`, ""},
		{"id not a string", `{"type":"push","requestId":5}`, ""},
		{"malformed id", `{"type":"push","requestId":"a b"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PeekRequestID([]byte(tt.in)); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// listOf is a JSON array of n copies of item.
func listOf(item string, n int) string {
	return "[" + strings.Repeat(item+",", n-1) + item + "]"
}

// members is n distinct JSON members, "m0":0 to "m<n-1>":0.
func members(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(`"m%d":0`, i)
	}
	return strings.Join(parts, ",")
}
