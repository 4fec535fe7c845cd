package syncproto

import (
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"testing"
)

// TestProtocolDocExamples keeps docs/protocol.md honest: every ```json
// block in it is a frame Decode accepts, and each golden frame is among them.
func TestProtocolDocExamples(t *testing.T) {
	doc, err := os.ReadFile("../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```json\n(.*?)```").FindAllSubmatch(doc, -1)
	var examples []Frame
	for i, b := range blocks {
		f, err := Decode(b[1])
		if err != nil {
			t.Errorf("example %d in docs/protocol.md: %v\n%s", i+1, err, b[1])
			continue
		}
		examples = append(examples, f)
	}
	for _, golden := range goldenFrames() {
		want, err := Encode(golden)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, f := range examples {
			got, err := Encode(f)
			if err == nil && sameJSON(got, want) {
				found = true
			}
		}
		if !found {
			t.Errorf("docs/protocol.md has no example equal to testdata/%s.json", golden.FrameType())
		}
	}
}

func sameJSON(a, b []byte) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}
