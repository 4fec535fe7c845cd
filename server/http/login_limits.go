package http

// Login limits that protect without locking out (docs/security.md, "Login
// limits"). Failed logins are counted in PostgreSQL per account (its
// e-mail, normalised exactly as the login normalises it) and per client
// address, so every instance sees the same counts. Past a few free
// failures each further one doubles a delay, up to a cap: a login tried
// before its delay has passed is answered 429 RATE_LIMITED with the wait,
// and nothing else. A login from a registered workstation is never refused
// for the limits alone: it is held until its delay has passed (never
// longer than the cap) and then checked like any other, so the right
// password gets in after at most the cap however many guesses came before.

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"wardsync/server/postgres"
	"wardsync/workflow"
)

// LoginLimits is the policy. Zero fields take the defaults.
type LoginLimits struct {
	// AccountFree and AddressFree are the failures allowed per account and
	// per address before delays start.
	AccountFree, AddressFree int
	// BaseDelay is the first delay; each further failure doubles it, up to
	// MaxDelay.
	BaseDelay, MaxDelay time.Duration
}

// DefaultLoginLimits: five guesses at an account cost nothing (typos), the
// sixth waits 1 s, the tenth 16 s, and from the eleventh on every guess
// waits 30 s: about 120 guesses an hour at one account, from anywhere. An
// address behind which a whole ward logs in gets more room.
func DefaultLoginLimits() LoginLimits {
	return LoginLimits{AccountFree: 5, AddressFree: 30, BaseDelay: time.Second, MaxDelay: 30 * time.Second}
}

// delay is how long after the last failure the next attempt must wait,
// given the failures counted and the free ones.
func (l LoginLimits) delay(failures, free int) time.Duration {
	if failures < free {
		return 0
	}
	steps := failures - free
	if steps > 30 {
		return l.MaxDelay
	}
	d := time.Duration(float64(l.BaseDelay) * math.Pow(2, float64(steps)))
	return min(d, l.MaxDelay)
}

// SetLoginLimits sets how many failed logins an account and an address may
// have before delays start (the rest of the policy keeps its defaults).
func (s *Server) SetLoginLimits(perAccount, perAddress int) {
	l := s.loginLimits()
	l.AccountFree, l.AddressFree = perAccount, perAddress
	s.SetLoginPolicy(l)
}

// SetLoginPolicy replaces the whole login-limit policy.
func (s *Server) SetLoginPolicy(l LoginLimits) {
	d := DefaultLoginLimits()
	if l.BaseDelay <= 0 {
		l.BaseDelay = d.BaseDelay
	}
	if l.MaxDelay <= 0 {
		l.MaxDelay = d.MaxDelay
	}
	a := s.access()
	a.mu.Lock()
	a.limits = l
	a.mu.Unlock()
}

func (s *Server) loginLimits() LoginLimits {
	a := s.access()
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.limits
}

// reserveLogin asks whether an attempt on name (an e-mail, or a claim's
// key) from address may be checked now: 0 means yes, and the attempt is
// counted in advance (postgres.ReserveLoginAttempt); otherwise the wait.
func (s *Server) reserveLogin(ctx context.Context, name, address string) (time.Duration, error) {
	acct, addr := postgres.LoginLimitKeys(name, address)
	l := s.loginLimits()
	return s.DB.ReserveLoginAttempt(ctx, []string{acct, addr}, s.DB.Config.LoginQuiet,
		func(got map[string]postgres.LoginFailures, now time.Time) time.Duration {
			wait := time.Duration(0)
			for key, free := range map[string]int{acct: l.AccountFree, addr: l.AddressFree} {
				f := got[key]
				if w := f.Last.Add(l.delay(f.Failures, free)).Sub(now); f.Failures > 0 && w > wait {
					wait = w
				}
			}
			return min(wait, l.MaxDelay)
		})
}

// admitLogin applies the limits before a password is checked. It returns
// whether the attempt was counted in advance, or a *rateLimited refusal. A
// registered, unrevoked workstation's login is never refused: it is held
// until its wait has passed (never longer than MaxDelay; held logins of one
// account go one at a time on this instance) and then checked, counted if
// its turn came, uncounted if another attempt took it meanwhile.
func (s *Server) admitLogin(ctx context.Context, req loginRequest, address string) (counted bool, err error) {
	wait, err := s.reserveLogin(ctx, req.Email, address)
	if err != nil || wait <= 0 {
		return err == nil, err
	}
	if req.DeviceID == "" {
		return false, &rateLimited{wait: wait}
	}
	dev, err := s.DB.Device(ctx, req.DeviceID)
	if err != nil || dev.RevokedAt != nil {
		return false, &rateLimited{wait: wait} // not a registered workstation
	}
	hold := s.holdFor(req.Email)
	hold.Lock()
	defer hold.Unlock()
	if wait, err = s.reserveLogin(ctx, req.Email, address); err != nil || wait <= 0 {
		return err == nil, err
	}
	if err := s.holdLogin(ctx, wait); err != nil {
		return false, err
	}
	wait, err = s.reserveLogin(ctx, req.Email, address)
	return err == nil && wait <= 0, err
}

// settleLogin finishes the count of an attempt: a success gives back the
// address's advance count (Login clears the account's); a wrong password
// that was not counted in advance is counted now.
func (s *Server) settleLogin(ctx context.Context, name, address string, counted bool, err error) {
	_, addr := postgres.LoginLimitKeys(name, address)
	var serr error
	switch rej, _ := workflow.AsRejection(err); {
	case err == nil && counted:
		serr = s.DB.ReleaseLoginAttempt(ctx, addr)
	case err != nil && !counted && rej != nil && rej.Code == workflow.CodeUnauthenticated:
		serr = s.DB.CountLoginFailure(ctx, name, address)
	}
	if serr != nil {
		s.Logger.Error("login limits", "err", serr)
	}
}

// holdLogin waits d, a held login's turn, or until ctx ends. The wait is
// the injected clock's (Now), so a test that moves that clock replaces the
// timer too (SetLoginHold in export_test.go): otherwise its assertions
// would hang on how fast the machine is.
func (s *Server) holdLogin(ctx context.Context, d time.Duration) error {
	a := s.access()
	a.mu.Lock()
	hold := a.hold
	a.mu.Unlock()
	if hold != nil {
		return hold(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// holdFor serialises the held logins of one account on this instance, so
// that many parallel guesses through a registered workstation's id are
// checked one after the other, each after its own delay.
func (s *Server) holdFor(email string) *sync.Mutex {
	a := s.access()
	a.mu.Lock()
	defer a.mu.Unlock()
	key := postgres.NormalizeEmail(email)
	m := a.holds[key]
	if m == nil {
		if len(a.holds) > 10000 {
			clear(a.holds) // only ever a lock: a fresh one is as good
		}
		m = &sync.Mutex{}
		a.holds[key] = m
	}
	return m
}

// rateLimited is the refusal of a login tried before its delay has passed.
type rateLimited struct{ wait time.Duration }

func (e *rateLimited) Error() string { return e.message() }

func (e *rateLimited) seconds() int { return max(1, int(math.Ceil(e.wait.Seconds()))) }

func (e *rateLimited) message() string {
	return fmt.Sprintf("Too many failed logins for this account or from this address; try again in %d seconds.", e.seconds())
}

// accessState is what the access checks keep per Server (the Server
// struct's fields are owned by server.go).
type accessState struct {
	mu      sync.Mutex
	limits  LoginLimits
	trusted []netip.Prefix
	holds   map[string]*sync.Mutex
	hold    func(ctx context.Context, d time.Duration) error // nil: a timer (holdLogin)
	watch   *sessionWatch
}

// SetTrustedProxies says whose X-Forwarded-For to believe: a comma-separated
// list of CIDRs (or single addresses). An empty list believes nobody.
func (s *Server) SetTrustedProxies(list string) error {
	var ps []netip.Prefix
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				return fmt.Errorf("-trusted-proxies: %q is neither a CIDR such as 10.0.0.0/8 nor an address", f)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		ps = append(ps, p.Masked())
	}
	a := s.access()
	a.mu.Lock()
	a.trusted = ps
	a.mu.Unlock()
	return nil
}

func (s *Server) isTrusted(addr netip.Addr) bool {
	a := s.access()
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, p := range a.trusted {
		if p.Contains(addr.Unmap()) {
			return true
		}
	}
	return false
}

// clientAddress is the address a request came from: the peer, unless the
// peer is a trusted proxy, in which case X-Forwarded-For is read from the
// right, skipping trusted proxies, and the first address not trusted is the
// client. A header from an untrusted peer is ignored: anyone can write one.
func (s *Server) clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !s.isTrusted(peer) {
		return host
	}
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		for _, f := range strings.Split(h, ",") {
			hops = append(hops, strings.TrimSpace(f))
		}
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(hops[i])
		if err != nil {
			break // a garbled hop: trust nothing further left
		}
		client = a.Unmap()
		if !s.isTrusted(client) {
			break
		}
	}
	return client.String()
}
