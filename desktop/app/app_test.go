package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"wardsync/desktop"
	"wardsync/desktop/app"
	"wardsync/workflow"
)

func TestFormatError(t *testing.T) {
	r := &workflow.Rejection{Code: workflow.CodeValidationFailed, Message: "Temperature 46 °C is above 45 °C.", Field: "vitals.temperature"}
	for _, c := range []struct {
		err  error
		want app.Problem
	}{
		{r, app.Problem{Code: "VALIDATION_FAILED", Message: r.Message, Field: "vitals.temperature"}},
		{fmt.Errorf("wrapped: %w", r), app.Problem{Code: "VALIDATION_FAILED", Message: r.Message, Field: "vitals.temperature"}},
		{fmt.Errorf("read: %w", workflow.ErrNotFound), app.Problem{Code: "NOT_FOUND", Message: "That record is not on this workstation."}},
		{errors.New("disk full"), app.Problem{Code: app.CodeInternal, Message: "disk full"}},
	} {
		if got := app.Format(c.err); got != c.want {
			t.Errorf("%v: got %+v, want %+v", c.err, got, c.want)
		}
		// Wails' native runtime makes new Error(value) of what the
		// formatter returns: it must be text (an object would read
		// "[object Object]"), and that text the Problem's JSON.
		text, ok := app.FormatError(c.err).(string)
		if !ok {
			t.Fatalf("%v: FormatError returned %T, want the JSON text", c.err, app.FormatError(c.err))
		}
		var back app.Problem
		if err := json.Unmarshal([]byte(text), &back); err != nil || back != c.want {
			t.Errorf("%v: JSON %s (%v), want %+v", c.err, text, err, c.want)
		}
	}
}

// Without a server: a fresh replica asks for setup, refusals come back as
// rejections, nothing is emitted before Wails starts the App, and
// Shutdown is safe twice.
func TestOfflineFirstStart(t *testing.T) {
	ctx := context.Background()
	var emitted atomic.Int64
	a, err := app.New(ctx, app.Config{
		Engine: desktop.Config{DBPath: filepath.Join(t.TempDir(), "ws.db")},
		Emit:   func(context.Context, string, any) { emitted.Add(1) },
	})
	if err != nil {
		t.Fatal(err)
	}
	st, err := a.Status()
	if err != nil || !st.NeedsSetup || st.Online {
		t.Fatalf("fresh status: %+v %v", st, err)
	}
	if emitted.Load() != 0 {
		t.Fatal("emitted before Startup")
	}
	if _, err := a.Login("nurse@hospital.com", "nurse123"); app.Format(err).Message != desktop.MsgNeverOnline {
		t.Fatalf("login with no server: %v", err)
	}
	if _, err := a.Act("nobody", "appointment.checkIn", json.RawMessage(`{"id":"x"}`)); app.Format(err).Code != "UNAUTHENTICATED" {
		t.Fatalf("act without a session: %v", err)
	}
	a.Startup(ctx)
	deadline := time.Now().Add(5 * time.Second)
	for emitted.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	a.Shutdown(ctx)
	a.Shutdown(ctx)
	if _, err := a.Status(); err == nil {
		t.Fatal("status after shutdown")
	}
}

// With a default server address, a replica that names none takes it.
func TestDefaultServerURL(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ws.db")
	a, err := app.New(ctx, app.Config{Engine: desktop.Config{DBPath: path, DeviceID: "dev-1"}, DefaultServerURL: "http://127.0.0.1:9"})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := a.Status()
	a.Shutdown(ctx)
	if st.ServerURL != "http://127.0.0.1:9" || st.NeedsSetup {
		t.Fatalf("status: %+v", st)
	}
	// A stored address wins over the default.
	b, err := app.New(ctx, app.Config{Engine: desktop.Config{DBPath: path}, DefaultServerURL: "http://other:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Shutdown(ctx)
	if st, _ := b.Status(); st.ServerURL != "http://127.0.0.1:9" || st.DeviceID != "dev-1" {
		t.Fatalf("reopened: %+v", st)
	}
}
