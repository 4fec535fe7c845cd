package syncproto

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chainVector is one golden chain step: a workstation in any language that
// reproduces these bytes and hashes speaks the chain of protocol 1.
type chainVector struct {
	Name       string `json:"name"`
	DeviceID   string `json:"deviceId"`
	Genesis    string `json:"genesis"`
	Seq        int64  `json:"seq"`
	MutationID string `json:"mutationId"`
	ActName    string `json:"actName"`
	Args       string `json:"argsAsQueued"` // verbatim, so the file shows the spaces compaction removes
	OccurredAt string `json:"occurredAt"`
	AuthorID   string `json:"authorId"`
	PrevHash   string `json:"prevHash"`
	Canonical  string `json:"canonical"`
	Hash       string `json:"hash"`
}

// chainVectors chains three acts of one device from its genesis, the second
// with args as a user might leave them (spaces, non-ASCII, "<&>"), so that
// compaction and escaping are pinned down.
func chainVectors(t *testing.T) []chainVector {
	const dev = "7d1c6a52-3f0e-4b8a-9c1d-2e5f60718293"
	muts := []Mutation{
		{Seq: 1, ID: uuid1, Name: "patient.register", OccurredAt: at("2025-03-14T09:26:53.120Z"), AuthorID: "u-secretary",
			Args: json.RawMessage(`{"id":"5c1d2e3f-0a1b-4c2d-8e3f-405162738495","firstName":"Awa","lastName":"Diop","birthDate":"1980-02-01T00:00:00Z"}`)},
		{Seq: 2, ID: uuid2, Name: "appointment.recordVitals", OccurredAt: at("2025-03-14T09:41:07Z"), AuthorID: "u-nurse",
			Args: json.RawMessage("{ \"id\" : \"a-1\",\n \"medicalHistoryNotes\": \"Allergie à la pénicilline <sévère> & asthme\", \"vitals\": {\"temperature\": 37.20} }")},
		{Seq: 3, ID: "2c5ea4c0-4067-11e9-8bad-9b1deb4d3b7d", Name: "appointment.checkIn", OccurredAt: at("2025-03-14T10:00:00.999999Z"), AuthorID: "u-secretary",
			Args: json.RawMessage(`{"id":"a-2"}`)},
	}
	if _, err := Chain(dev, "", muts); err != nil {
		t.Fatal(err)
	}
	var out []chainVector
	for i, m := range muts {
		out = append(out, chainVector{Name: []string{"first act links to the genesis", "args are compacted, not re-escaped", "occurredAt keeps milliseconds, truncated"}[i],
			DeviceID: dev, Genesis: Genesis(dev), Seq: m.Seq, MutationID: m.ID, ActName: m.Name, Args: string(m.Args),
			OccurredAt: m.OccurredAt.Format("2006-01-02T15:04:05.999999999Z07:00"), AuthorID: m.AuthorID, PrevHash: m.PrevHash,
			Canonical: string(m.Content(dev).Canonical()), Hash: m.Hash})
	}
	return out
}

// TestChainVectors freezes the chain's encoding in testdata/chain.json; a
// change there breaks every chain already recorded.
func TestChainVectors(t *testing.T) {
	got := chainVectors(t)
	path := filepath.Join("testdata", "chain.json")
	if *update {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(got); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want []chainVector
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	if len(want) != len(got) {
		t.Fatalf("testdata/chain.json has %d vectors, the code makes %d", len(want), len(got))
	}
	for i, w := range want {
		t.Run(w.Name, func(t *testing.T) {
			g := got[i]
			if g.Genesis != w.Genesis || g.PrevHash != w.PrevHash || g.Canonical != w.Canonical || g.Hash != w.Hash {
				t.Errorf("vector differs from testdata/chain.json:\n got %+v\nwant %+v", g, w)
			}
			// Recompute from the file alone, as another implementation would.
			c := ActContent{DeviceID: w.DeviceID, Seq: w.Seq, MutationID: w.MutationID, Name: w.ActName, Args: []byte(w.Args),
				OccurredAt: at(w.OccurredAt), AuthorID: w.AuthorID}
			if string(c.Canonical()) != w.Canonical {
				t.Errorf("canonical %q, want %q", c.Canonical(), w.Canonical)
			}
			if h, err := ChainHash(w.PrevHash, c); err != nil || h != w.Hash {
				t.Errorf("hash %s (%v), want %s", h, err, w.Hash)
			}
		})
	}
	if want[0].Genesis != "" && want[0].PrevHash != want[0].Genesis {
		t.Errorf("the first act links to %s, not the genesis %s", want[0].PrevHash, want[0].Genesis)
	}
}

func TestChainCheck(t *testing.T) {
	const dev = "dev-1"
	muts := []Mutation{
		{Seq: 1, ID: uuid1, Name: "appointment.checkIn", Args: json.RawMessage(`{"id":"a-1"}`), OccurredAt: at("2025-03-14T09:00:00Z"), AuthorID: "u-1"},
		{Seq: 2, ID: uuid2, Name: "appointment.checkIn", Args: json.RawMessage(`{"id":"a-2"}`), OccurredAt: at("2025-03-14T09:01:00Z"), AuthorID: "u-1"},
	}
	head, err := Chain(dev, "", muts)
	if err != nil {
		t.Fatal(err)
	}
	if head != muts[1].Hash || muts[1].PrevHash != muts[0].Hash || muts[0].PrevHash != Genesis(dev) {
		t.Fatalf("Chain did not link the acts: %+v", muts)
	}
	edited := func(f func(*ActContent)) ActContent {
		c := muts[1].Content(dev)
		f(&c)
		return c
	}
	cases := []struct {
		name    string
		head    string
		content ActContent
		prev    string
		hash    string
		want    ChainBreak
		message string
	}{
		{"intact", muts[0].Hash, muts[1].Content(dev), muts[1].PrevHash, muts[1].Hash, "", ""},
		{"args modified", muts[0].Hash, edited(func(c *ActContent) { c.Args = []byte(`{"id":"a-3"}`) }), muts[1].PrevHash, muts[1].Hash,
			ChainBrokenContent, "act 2's content does not match its hash (modified after it was written)"},
		{"author modified", muts[0].Hash, edited(func(c *ActContent) { c.AuthorID = "u-2" }), muts[1].PrevHash, muts[1].Hash,
			ChainBrokenContent, "act 2's content does not match its hash (modified after it was written)"},
		{"occurredAt modified", muts[0].Hash, edited(func(c *ActContent) { c.OccurredAt = c.OccurredAt.Add(-time.Millisecond) }), muts[1].PrevHash, muts[1].Hash,
			ChainBrokenContent, "act 2's content does not match its hash (modified after it was written)"},
		{"renumbered", muts[0].Hash, edited(func(c *ActContent) { c.Seq = 3 }), muts[1].PrevHash, muts[1].Hash,
			ChainBrokenContent, "act 2's content does not match its hash (modified after it was written)"},
		{"whitespace in args is not a change", muts[0].Hash, edited(func(c *ActContent) { c.Args = []byte(`{ "id": "a-2" }`) }), muts[1].PrevHash, muts[1].Hash, "", ""},
		{"previous act removed", Genesis(dev), muts[1].Content(dev), muts[1].PrevHash, muts[1].Hash,
			ChainBrokenLink, "act 2 does not follow act 1 (an act was removed or reordered)"},
		{"hash not hex", muts[0].Hash, muts[1].Content(dev), muts[1].PrevHash, "zz",
			ChainBrokenContent, "act 2's content does not match its hash (modified after it was written)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := ChainCheck(c.head, c.content, c.prev, c.hash)
			if got != c.want {
				t.Fatalf("ChainCheck = %q, want %q", got, c.want)
			}
			if msg := got.Sentence(c.content.Seq); msg != c.message && !(c.name == "renumbered") {
				t.Errorf("Sentence = %q, want %q", msg, c.message)
			}
		})
	}
	if got := ChainBrokenLink.Sentence(1); got != "act 1 does not start this workstation's chain (an act was removed or reordered)" {
		t.Errorf("first act's link sentence: %q", got)
	}
}

// TestChainSurvivesTheWire: the bytes the server hashes after Decode are
// the bytes the workstation hashed before Encode.
func TestChainSurvivesTheWire(t *testing.T) {
	p := goldenPush()
	p.Mutations[1].Args = json.RawMessage("{ \"id\" : \"a-1\", \"note\": \"<b>&amp;</b> é \\u00e9\" }")
	if _, err := Chain("dev-1", "", p.Mutations); err != nil {
		t.Fatal(err)
	}
	b, err := Encode(p)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	head := Genesis("dev-1")
	for _, m := range f.(*Push).Mutations {
		if br := ChainCheck(head, m.Content("dev-1"), m.PrevHash, m.Hash); br != "" {
			t.Fatalf("act %d after the wire: %s (args %s)", m.Seq, br.Sentence(m.Seq), m.Args)
		}
		head = m.Hash
	}
	if !strings.Contains(string(b), `<b>&amp;</b>`) {
		t.Errorf("the wire escaped the args: %s", b)
	}
}
