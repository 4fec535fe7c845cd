package http_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"

	"wardsync/internal/wardtest"
	httpserver "wardsync/server/http"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// TestDatabaseOutageIsUnavailable: while the server cannot reach
// PostgreSQL, a push is answered UNAVAILABLE (not fatal, with the sentence
// that the acts are kept), a login 503 with the same code and sentence;
// once the link is back, the same act sent again applies, once.
func TestDatabaseOutageIsUnavailable(t *testing.T) {
	t.Parallel()
	direct := wardtest.StartServer(t, wardtest.Options{})
	u, err := url.Parse(direct.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	// The link between the server and its PostgreSQL, cut as while
	// PostgreSQL restarts or the network between them is down.
	link := wardtest.NewLink(t, t.Name(), u.Host)
	u.Host = link.P.Listen
	env := wardtest.StartServer(t, wardtest.Options{DatabaseURL: u.String(), Clock: direct.Clock})

	sec := env.Login(t, workflow.RoleSecretary, demo)
	c := env.Connect(t, sec, demo)
	patient := uuid.NewString()
	m := c.Mut("patient.register", registerArgs(patient, "Outage"), sec, ms(time.Now()))

	link.Cut()
	r := c.PushFrame(t, m)
	ef, ok := r.F.(*syncproto.Error)
	if !ok {
		t.Fatalf("push during the outage answered %s", r.Raw)
	}
	if ef.Code != workflow.CodeUnavailable || ef.Message != httpserver.MsgUnavailable || ef.Fatal {
		t.Fatalf("push during the outage: %+v", ef)
	}
	status, body := wardtest.CallJSON(t, http.DefaultClient, http.MethodPost, env.URL()+"/api/v1/auth/login", "",
		wardtest.LoginBody(wardtest.Email(workflow.RoleNurse), wardtest.Password(workflow.RoleNurse), demo))
	if status != http.StatusServiceUnavailable || body["code"] != string(workflow.CodeUnavailable) || body["message"] != httpserver.MsgUnavailable {
		t.Fatalf("login during the outage: %d %v", status, body)
	}

	if err := link.Restore(); err != nil {
		t.Fatal(err)
	}
	res := c.Push(t, m)
	if res[0].Status != syncproto.StatusApplied {
		t.Fatalf("the act sent again after the outage: %+v", res[0])
	}
	if n := wardtest.Count(t, direct.Pool, `SELECT count(*) FROM patients WHERE id = $1`, patient); n != 1 {
		t.Fatalf("the patient is there %d times", n)
	}
}
