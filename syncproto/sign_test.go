package syncproto

import (
	"encoding/json"
	"testing"
	"time"

	"wardsync/workflow"
)

// TestSignaturesAreBoundToWhatTheySign: an act's signature verifies for
// that act only; a device proof for its purpose, device and nonce only;
// and no kind of signature passes for another.
func TestSignaturesAreBoundToWhatTheySign(t *testing.T) {
	pub, priv := NewKey()
	other, _ := NewKey()
	m := Mutation{Seq: 1, ID: "0f8fad5b-d9cb-469f-a165-70867728950e", Name: "patient.update", Args: json.RawMessage(`{"id":"p","phone":"1"}`),
		OccurredAt: time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC), AuthorID: "u"}
	ms := []Mutation{m}
	if _, err := Chain("dev", "", ms); err != nil {
		t.Fatal(err)
	}
	m = ms[0]
	SignAct(priv, "ses", &m)
	if r := VerifyAct(pub, "dev", &m); r != nil {
		t.Fatalf("an honest act: %v", r)
	}
	// A memo holding the honest act verified (as a push's memo filled
	// ahead) vouches for that key, message and signature only: every
	// changed act below is refused through it as without it.
	memo := &SigMemo{}
	if r := VerifyActMemo(memo, pub, "dev", &m); r != nil || !memo.has(pub, message(actSigDomain, "ses", m.Hash), m.Signature) {
		t.Fatalf("an honest act through the memo: %v, remembered: %v", r, memo.has(pub, message(actSigDomain, "ses", m.Hash), m.Signature))
	}
	for name, c := range map[string]struct {
		pub []byte
		dev string
		mod func(*Mutation)
		msg string
	}{
		"unsigned":       {pub, "dev", func(m *Mutation) { m.Signature = "" }, MsgActUnsigned},
		"no session key": {nil, "dev", func(*Mutation) {}, MsgActNoKey},
		"other key":      {other, "dev", func(*Mutation) {}, MsgActBadSig},
		"other device":   {pub, "dev2", func(*Mutation) {}, MsgActBadSig},
		"other session":  {pub, "dev", func(m *Mutation) { m.SessionID = "ses2" }, MsgActBadSig},
		"changed args":   {pub, "dev", func(m *Mutation) { m.Args = json.RawMessage(`{"id":"p","phone":"2"}`) }, MsgActBadSig},
		"changed author": {pub, "dev", func(m *Mutation) { m.AuthorID = "v" }, MsgActBadSig},
		"changed time":   {pub, "dev", func(m *Mutation) { m.OccurredAt = m.OccurredAt.Add(-time.Hour) }, MsgActBadSig},
		"changed seq":    {pub, "dev", func(m *Mutation) { m.Seq = 2 }, MsgActBadSig},
		"changed name":   {pub, "dev", func(m *Mutation) { m.Name = "patient.register" }, MsgActBadSig},
	} {
		x := m
		c.mod(&x)
		r := VerifyAct(c.pub, c.dev, &x)
		if r == nil || r.Code != workflow.CodeUnauthenticated || r.Message != c.msg {
			t.Errorf("%s: %v, want UNAUTHENTICATED %q", name, r, c.msg)
		}
		r = VerifyActMemo(memo, c.pub, c.dev, &x)
		if r == nil || r.Code != workflow.CodeUnauthenticated || r.Message != c.msg {
			t.Errorf("%s, with the memo: %v, want UNAUTHENTICATED %q", name, r, c.msg)
		}
	}

	p := ProveDevice(priv, "dev", PurposeLogin, "n1")
	if !VerifyDevice(pub, "dev", PurposeLogin, "n1", p) {
		t.Fatal("a device proof does not verify")
	}
	if VerifyDevice(pub, "dev", PurposeSync, "n1", p) || VerifyDevice(pub, "dev", PurposeLogin, "n2", p) ||
		VerifyDevice(pub, "dev2", PurposeLogin, "n1", p) || VerifyDevice(other, "dev", PurposeLogin, "n1", p) {
		t.Error("a device proof verified for another purpose, nonce, device or key")
	}
	sp := ProveSession(priv, "ses", "dev", "n1")
	if !VerifySession(pub, "ses", "dev", "n1", sp) || VerifySession(pub, "ses", "dev", "n2", sp) || VerifyDevice(pub, "dev", PurposeSync, "n1", sp) {
		t.Error("a session proof is not bound to its session, device and nonce")
	}
}
