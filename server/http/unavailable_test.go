package http_test

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"wardsync/internal/wardtest"
	httpserver "wardsync/server/http"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// cutLink is a TCP link between the server and its PostgreSQL that the
// test cuts and mends: cut, every open connection is dropped and every new
// one closed at once, as while PostgreSQL restarts or the network between
// them is down.
type cutLink struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	open   []net.Conn
}

func newCutLink(t *testing.T, target string) *cutLink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &cutLink{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); l.setCut(true) })
	go l.serve()
	return l
}

func (l *cutLink) serve() {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.mu.Lock()
		cut := l.cut
		if !cut {
			l.open = append(l.open, c)
		}
		l.mu.Unlock()
		if cut {
			c.Close()
			continue
		}
		go func() {
			up, err := net.Dial("tcp", l.target)
			if err != nil {
				c.Close()
				return
			}
			l.mu.Lock()
			l.open = append(l.open, up)
			l.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			_, _ = io.Copy(c, up)
			c.Close()
		}()
	}
}

func (l *cutLink) setCut(cut bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cut = cut
	if cut {
		for _, c := range l.open {
			c.Close()
		}
		l.open = nil
	}
}

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
	link := newCutLink(t, u.Host)
	u.Host = link.ln.Addr().String()
	env := wardtest.StartServer(t, wardtest.Options{DatabaseURL: u.String(), Clock: direct.Clock})

	sec := env.Login(t, workflow.RoleSecretary, demo)
	c := env.Connect(t, sec, demo)
	c.Seq = hello2(t, c).LastMutationSeq
	patient := uuid.NewString()
	m := c.Mut("patient.register", registerArgs(patient, "Outage"), sec, ms(time.Now()))

	link.setCut(true)
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

	link.setCut(false)
	res := c.Push(t, m)
	if res[0].Status != syncproto.StatusApplied {
		t.Fatalf("the act sent again after the outage: %+v", res[0])
	}
	if n := wardtest.Count(t, direct.Pool, `SELECT count(*) FROM patients WHERE id = $1`, patient); n != 1 {
		t.Fatalf("the patient is there %d times", n)
	}
}
