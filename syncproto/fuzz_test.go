package syncproto

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"wardsync/workflow"
)

// fuzzSeeds are the golden frames and every table case small enough to keep
// in the repository: each one reaches a different branch of Decode.
func fuzzSeeds(t testing.TB) map[string][]byte {
	seeds := map[string][]byte{}
	for _, f := range goldenFrames() {
		b, err := Encode(f)
		if err != nil {
			t.Fatal(err)
		}
		seeds["golden-"+f.FrameType()] = b
	}
	add := func(prefix, name, in string) {
		if len(in) <= 16<<10 {
			seeds[prefix+strings.NewReplacer(" ", "-", "/", "-").Replace(name)] = []byte(in)
		}
	}
	for _, c := range acceptCases() {
		add("accept-", c.name, c.in)
	}
	for _, c := range rejectCases() {
		add("reject-", c.name, c.in)
	}
	return seeds
}

// TestFuzzCorpus keeps testdata/fuzz/FuzzDecode in step with the seeds;
// go test -update rewrites it.
func TestFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	for name, data := range fuzzSeeds(t) {
		path := filepath.Join(dir, name)
		want := []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(data))))
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is missing or stale (run go test -update ./syncproto)", path)
		}
	}
}

// FuzzDecode: Decode never panics, refuses only with a *workflow.Rejection,
// and whatever it accepts survives Encode and Decode unchanged.
func FuzzDecode(f *testing.F) {
	for _, data := range fuzzSeeds(f) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := Decode(data)
		if err != nil {
			if fr != nil {
				t.Fatalf("Decode returned both a frame and %v", err)
			}
			if r, ok := workflow.AsRejection(err); !ok || r.Code == "" || r.Message == "" {
				t.Fatalf("Decode error %T %v is not a complete *workflow.Rejection", err, err)
			}
			return
		}
		first, err := Encode(fr)
		if err != nil {
			// Go escapes U+2028 and U+2029 in strings (3 bytes become 6), so a
			// frame near the limit may not fit once re-encoded.
			if r, _ := workflow.AsRejection(err); r != nil && strings.Contains(r.Message, "exceeds the 1 MiB limit") && len(data) > MaxFrameBytes/2 {
				return
			}
			t.Fatalf("Encode refused a decoded frame: %v\ninput: %q", err, data)
		}
		again, err := Decode(first)
		if err != nil {
			t.Fatalf("Decode refused Encode's output: %v\nencoded: %s\ninput: %q", err, first, data)
		}
		if !reflect.DeepEqual(fr, again) {
			t.Fatalf("round trip changed the frame:\n got %#v\nwant %#v\ninput: %q", again, fr, data)
		}
		second, err := Encode(again)
		if err != nil || !bytes.Equal(first, second) {
			t.Fatalf("Encode is not stable: %v\n first %s\nsecond %s", err, first, second)
		}
	})
}
