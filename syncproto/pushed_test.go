package syncproto

import (
	"strings"
	"testing"

	"wardsync/workflow"
)

// A changes frame answers a pull (requestId) or is pushed (from), never
// both and never neither; a hello may ask for pushed pages.
func TestPushedPageFrames(t *testing.T) {
	pushed := `{"type":"changes","from":"f.10.0.7c1e9a4b","cursor":"f.12.0.7c1e9a4b","lastMutationSeq":0,"changes":[],"more":false}`
	f, err := DecodeFromServer([]byte(pushed))
	if err != nil {
		t.Fatalf("pushed page refused: %v", err)
	}
	if ch := f.(*Changes); ch.From != "f.10.0.7c1e9a4b" || ch.RequestID != "" {
		t.Fatalf("decoded %+v", ch)
	}
	for _, tc := range []struct{ frame, msg string }{
		{`{"type":"changes","cursor":"f.12.0","lastMutationSeq":0,"changes":[],"more":false}`,
			"changes must carry requestId (an answer to a pull) or from (a pushed page)"},
		{`{"type":"changes","requestId":"r-1","from":"f.10.0","cursor":"f.12.0","lastMutationSeq":0,"changes":[],"more":false}`,
			"changes carries both requestId and from; a pushed page answers no pull"},
	} {
		_, err := DecodeFromServer([]byte(tc.frame))
		r, ok := workflow.AsRejection(err)
		if !ok || r.Code != workflow.CodeProtocolError || r.Message != tc.msg {
			t.Errorf("%s: got %v, want PROTOCOL_ERROR %q", tc.frame, err, tc.msg)
		}
		if _, err := Encode(changesLike(t, tc.frame)); err == nil {
			t.Errorf("%s: Encode accepted it", tc.frame)
		}
	}
	h, err := DecodeFromClient([]byte(`{"type":"hello","requestId":"r-1","protocol":2,"deviceId":"d","cursor":"","lastMutationSeq":0,"pending":0,"pages":true}`))
	if err != nil || !h.(*Hello).Pages {
		t.Fatalf("hello with pages: %+v %v", h, err)
	}
}

// changesLike builds the frame without the checks, to try Encode on it.
func changesLike(t *testing.T, s string) Frame {
	t.Helper()
	ch := &Changes{Cursor: "f.12.0", Changes: []Change{}}
	if strings.Contains(s, `"requestId"`) {
		ch.RequestID = "r-1"
	}
	if strings.Contains(s, `"from"`) {
		ch.From = "f.10.0"
	}
	return ch
}
