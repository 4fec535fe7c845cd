package http_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"wardsync/internal/wardtest"
	httpserver "wardsync/server/http"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// A push that takes longer than the read deadline (three ping intervals)
// keeps its socket: the server goes on reading pongs while it applies the
// push, and the device's next frame is answered. The slow statement is
// injected in this test's database: a trigger sleeps on one patient's
// registration.
func TestSlowPushKeepsTheSocket(t *testing.T) {
	t.Parallel()
	const ping = 100 * time.Millisecond
	env := wardtest.StartServer(t, wardtest.Options{Configure: func(s *httpserver.Server) { s.PingInterval = ping }})
	srv := env
	const slow = 1200 * time.Millisecond // 4 × the read deadline of 3 pings
	if _, err := env.Pool.Exec(context.Background(), `
		CREATE FUNCTION public.test_slow_register() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
		    IF NEW."lastName" = 'Lente' THEN PERFORM pg_sleep(1.2); END IF;
		    RETURN NEW;
		END $$;
		CREATE TRIGGER test_slow_register BEFORE INSERT ON public.patients FOR EACH ROW EXECUTE FUNCTION public.test_slow_register()`); err != nil {
		t.Fatal(err)
	}
	sec := srv.Login(t, workflow.RoleSecretary, demo)
	c := srv.Connect(t, sec, demo)
	now := ms(time.Now())

	start := time.Now()
	p := uuid.NewString()
	if res := c.Push(t, c.Mut("patient.register", registerArgs(p, "Lente"), sec, now))[0]; res.Status != syncproto.StatusApplied {
		t.Fatalf("slow push: %s %s %s", res.Status, res.Code, res.Message)
	}
	if took := time.Since(start); took < slow {
		t.Fatalf("the push took %s: the slow statement did not run", took)
	}
	// The frame after the slow push is answered on the same socket.
	ch := c.Pull(t, "", 0)
	found := false
	for _, x := range ch.Changes {
		found = found || x.ID == p
	}
	if !found && !ch.More {
		t.Fatalf("the pull after the slow push misses patient %s", p)
	}
	c.Act(t, "patient.register", registerArgs(uuid.NewString(), "Prompt"), sec, now)
	if err := c.CloseError(); err != nil {
		t.Fatalf("socket dropped: %v", err)
	}
}
