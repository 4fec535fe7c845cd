package admin_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"wardsync/desktop"
	"wardsync/desktop/app"
	"wardsync/desktop/remote"
	"wardsync/frontend"
	"wardsync/internal/wardtest"
	"wardsync/server/certs"
	httpserver "wardsync/server/http"
	"wardsync/server/postgres"
	"wardsync/workflow"
)

// TestOverTLS runs the server with the certificate of `cert init`, a
// workstation engine that trusts its CA file, and the dashboard in
// headless Chromium over https. Chromium is told to trust the server's
// key with --ignore-certificate-errors-spki-list (its pin): a test cannot
// add a CA to Chromium's store without root's NSS tools, and the flag
// trusts only that one key. Then a workstation given another CA, or
// pinned to another key, refuses the server with its sentence, and one
// given plain http:// to another computer refuses before connecting.
func TestOverTLS(t *testing.T) {
	dir := t.TempDir()
	files, err := certs.Init(filepath.Join(dir, "tls"), nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	other, err := certs.Init(filepath.Join(dir, "other"), nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	url := wardtest.StartServer(t, wardtest.Options{TLSCert: files.Cert, TLSKey: files.Key}).URL()
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("server URL %s", url)
	}

	// The workstation engine, trusting the CA of cert init: it logs in
	// online and syncs over wss.
	open := func(name string, sec desktop.Security) *desktop.Engine {
		t.Helper()
		e, err := desktop.Open(ctx, desktop.Config{DBPath: filepath.Join(dir, name+".db"), ServerURL: url, DeviceID: postgres.DemoDeviceID,
			Security: sec, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), BackoffMin: 50 * time.Millisecond, BackoffMax: 500 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = e.Close(c)
		})
		return e
	}
	good := open("good", desktop.Security{CAFile: files.CA, Pin: files.Pin})
	s, err := good.Login(ctx, "nurse@hospital.com", "nurse123")
	if err != nil || s.Offline {
		t.Fatalf("login over TLS with the CA of cert init: %+v %v", s, err)
	}
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	go good.Run(runCtx)
	deadline := time.Now().Add(20 * time.Second)
	for st := good.Status(); !st.Online || st.LastSyncAt == nil || st.InitialSync != nil; st = good.Status() {
		if time.Now().After(deadline) {
			t.Fatalf("the workstation did not sync over TLS: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Refusals, each with its sentence. The users never logged in online
	// here, so the refusal is what the login says.
	host := strings.TrimPrefix(url, "https://")
	for _, tc := range []struct {
		name string
		sec  desktop.Security
		code workflow.Code
		msg  string
	}{
		{"another CA", desktop.Security{CAFile: other.CA}, remote.CodeUntrustedServer,
			`The server at ` + host + ` presented a certificate signed by "wardsync local CA", which this workstation does not trust; give it the hospital's CA file (-ca-file, or the setup screen).`},
		{"another pin", desktop.Security{CAFile: files.CA, Pin: other.Pin}, remote.CodePinMismatch,
			"The server at " + host + " presented the key " + files.Pin + ", but this workstation is pinned to " + other.Pin +
				"; the connection was refused because the server's key changed or someone is intercepting the connection. If the key was replaced on purpose, update the pin."},
	} {
		e := open(strings.ReplaceAll(tc.name, " ", "-"), tc.sec)
		_, err := e.Login(ctx, "nurse@hospital.com", "nurse123")
		if r, ok := workflow.AsRejection(err); !ok || r.Code != tc.code || r.Message != tc.msg {
			t.Errorf("%s: %v\nwant %s: %s", tc.name, err, tc.code, tc.msg)
		}
	}
	_, err = desktop.Open(ctx, desktop.Config{DBPath: filepath.Join(dir, "plain.db"), ServerURL: "http://10.20.30.40:8420", DeviceID: postgres.DemoDeviceID})
	if r, ok := workflow.AsRejection(err); !ok || r.Code != remote.CodeInsecureURL || r.Message !=
		"The server address http://10.20.30.40:8420 uses plain http://, which would send passwords and patient records unencrypted over the network; use https:// (plain http is allowed only to this computer, such as http://127.0.0.1:8420)." {
		t.Errorf("plain http to another computer: %v", err)
	}

	// The setup screen's CA field: the app checks the file, keeps a copy
	// beside the replica and logs in online over TLS with it.
	appDB := filepath.Join(dir, "app", "workstation.db")
	os.MkdirAll(filepath.Dir(appDB), 0o700)
	a, err := app.New(ctx, app.Config{Engine: desktop.Config{DBPath: appDB, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown(ctx)
	if _, err := a.Setup("http://10.20.30.40:8420", postgres.DemoDeviceID, "", ""); app.Format(err).Code != string(remote.CodeInsecureURL) || app.Format(err).Field != "serverUrl" {
		t.Errorf("setup with plain http to another computer: %+v", app.Format(err))
	}
	if _, err := a.Setup(url, postgres.DemoDeviceID, "", files.Key); app.Format(err).Code != string(remote.CodeBadTLSConfig) || app.Format(err).Field != "caFile" ||
		app.Format(err).Message != "The CA file "+files.Key+" holds no PEM certificate; give the hospital's CA certificate (a file starting with -----BEGIN CERTIFICATE-----)." {
		t.Errorf("setup with a key as CA file: %+v", app.Format(err))
	}
	if _, err := a.Setup(url, postgres.DemoDeviceID, "", files.CA); err != nil {
		t.Fatalf("setup with the CA file: %+v", app.Format(err))
	}
	if fi, err := os.Stat(desktop.StoredCAFile(appDB)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the CA kept beside the replica: %v %v", fi, err)
	}
	if s, err := a.Login("secretary@hospital.com", "secretary123"); err != nil || s.Offline {
		t.Fatalf("login after setup with the CA file: %+v %+v", s, app.Format(err))
	}

	// The dashboard over https, with HSTS, its live stream included.
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(files.CA)
	pool.AppendCertsFromPEM(pem)
	resp, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}).Get(url + "/admin")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Strict-Transport-Security") != httpserver.HSTSHeader {
		t.Errorf("/admin over TLS without HSTS: %v", resp.Header)
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("%s is missing (apt-get install chromium); the browser part runs whenever CI is set", chromiumPath)
		}
		t.Fatalf("%s is missing", chromiumPath)
	}
	if !frontend.HasAdmin() {
		t.Fatal("frontend/dist has no admin.html: run `make frontend` and the test again")
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("ignore-certificate-errors-spki-list", strings.TrimPrefix(files.Pin, "sha256/")),
		chromedp.UserDataDir(t.TempDir()),
	)
	defer cancelAlloc()
	bctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	tctx, tcancel := context.WithTimeout(bctx, 60*time.Second)
	defer tcancel()
	if err := chromedp.Do(tctx,
		chromedp.Navigate(url+"/admin"),
		chromedp.WaitVisible(chromedp.CSS(`#login-form`)),
		chromedp.SendKeys(chromedp.CSS(`#login-form input[name="email"]`), "admin@hospital.com"),
		chromedp.SendKeys(chromedp.CSS(`#login-form input[name="password"]`), "admin123"),
		chromedp.Click(chromedp.CSS(`#login-form button[type="submit"]`)),
	); err != nil {
		t.Fatalf("sign in over https: %v", err)
	}
	if _, err := chromedp.Run(tctx, chromedp.Poll[chromedp.Void](`location.protocol === 'https:' && document.querySelector('#live')?.dataset.state === 'live'`,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		page, _ := chromedp.Run(tctx, chromedp.Evaluate[string](`document.body.innerText.slice(0, 2000)`))
		t.Fatalf("the dashboard's live stream over https did not start: %v\n%s", err, page)
	}
}
