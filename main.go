// Command wardsync-desktop is the ward workstation: the Wails window around
// the TypeScript UI (frontend/index.html) and the engine (package desktop)
// that keeps working through network outages. It is built beside wails.json
// without the Wails CLI:
//
//	cd frontend && npm ci && npm run build && cd ..
//	go build -tags desktop,production,webkit2_41 -o build/wardsync-desktop .
//
// Flags (or $WARDSYNC_DB, $WARDSYNC_SERVER, $WARDSYNC_DEVICE, $WARDSYNC_CA_FILE,
// $WARDSYNC_PIN):
//
//	-db PATH       the replica (default <user config dir>/wardsync/workstation.db)
//	-server URL    the sync server, https:// (default http://127.0.0.1:8420 unless the
//	               replica names one; plain http only to this computer)
//	-device ID     this workstation's id (else the first-start setup asks)
//	-ca-file PATH  the hospital's CA certificate (PEM), trusted besides the system's
//	-pin PIN       sha256/<base64>: the server's key must be this one (docs/security.md)
//	-retry-max D   longest wait between attempts to reach the server (default 30s;
//	               at most 2 s while acts wait to be sent, and at once on a
//	               network change or "Send now")
//	-version       print the release and commit, then exit
//
// On Windows the MSI's silent properties (SERVER_URL, CA_FILE, DEVICE_ID,
// CLAIM_CODE, under HKLM\SOFTWARE\wardsync) are the defaults of -server,
// -ca-file and -device, and the claim code is redeemed on a workstation
// where nobody has logged in yet; a missing WebView2 runtime is named in a
// message box instead of a silent failure.
//
// A build with -tags dev also takes Wails' -assetdir and -devserver, and then
// serves the UI with working bindings to a browser at the devserver address.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/wailsapp/wails/v2"
	"github.com/wailsapp/wails/v2/pkg/options"
	"github.com/wailsapp/wails/v2/pkg/options/assetserver"
	"github.com/wailsapp/wails/v2/pkg/options/linux"
	"github.com/wailsapp/wails/v2/pkg/runtime"

	"wardsync/desktop"
	"wardsync/desktop/app"
	"wardsync/frontend"
	"wardsync/process"
	"wardsync/version"
)

func main() {
	process.Run(func(ctx context.Context) int {
		if err := run(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "wardsync-desktop:", err)
			app.ShowFatal(err.Error())
			return 1
		}
		return 0
	})
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func run(ctx context.Context) error {
	dir, err := os.UserConfigDir()
	if err != nil {
		dir = "."
	}
	inst := app.ReadInstallSettings()
	fs := flag.NewFlagSet("wardsync-desktop", flag.ContinueOnError)
	dbPath := fs.String("db", env("WARDSYNC_DB", filepath.Join(dir, "wardsync", "workstation.db")), "replica file")
	server := fs.String("server", env("WARDSYNC_SERVER", inst.ServerURL), "sync server URL (default http://127.0.0.1:8420 unless the replica names one)")
	device := fs.String("device", env("WARDSYNC_DEVICE", inst.DeviceID), "this workstation's device id")
	showVersion := fs.Bool("version", false, "print the release and commit, then exit")
	retryMax := fs.Duration("retry-max", 30*time.Second, "longest wait between two attempts to reach the server")
	var sec desktop.Security
	fs.StringVar(&sec.CAFile, "ca-file", env("WARDSYNC_CA_FILE", inst.CAFile), "the hospital's CA certificate (PEM), trusted besides the system's")
	fs.StringVar(&sec.Pin, "pin", os.Getenv("WARDSYNC_PIN"), "sha256/<base64 of the server key's SPKI SHA-256>: refuse any other server key")
	idleLock := fs.Duration("idle-lock", 10*time.Minute, "lock the workstation after this long without input (0: never)")
	// Wails' dev build reads these itself, but stops at the first flag it
	// does not know; handing them over as env vars makes any order work.
	passed := map[string]*string{}
	for _, name := range []string{"assetdir", "devserver", "frontenddevserverurl", "loglevel"} {
		passed[name] = fs.String(name, "", "Wails dev build: "+name)
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		return err
	}
	for name, v := range passed {
		if *v != "" {
			os.Setenv(name, *v)
		}
	}
	if *showVersion {
		fmt.Println("wardsync-desktop", version.String())
		return nil
	}
	if err := app.CheckWebView2(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(*dbPath), 0o700); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	engine := desktop.Config{DBPath: *dbPath, ServerURL: *server, DeviceID: *device, Logger: log, BackoffMax: *retryMax, Security: sec, NetworkEvents: true}
	a, err := app.New(ctx, app.Config{
		Engine:           engine,
		ClaimCode:        inst.ClaimCode,
		DefaultServerURL: "http://127.0.0.1:8420",
		Emit:             func(ctx context.Context, name string, data any) { runtime.EventsEmit(ctx, name, data) },
		SetTitle:         runtime.WindowSetTitle,
		Quit:             runtime.Quit,
		Logger:           log,
		IdleLock:         *idleLock,
	})
	if err != nil {
		return err
	}
	return wails.Run(&options.App{
		Title:            "wardsync",
		Width:            1280,
		Height:           800,
		MinWidth:         1024,
		MinHeight:        640,
		BackgroundColour: options.NewRGB(244, 246, 248),
		AssetServer:      &assetserver.Options{Assets: frontend.Dist},
		OnStartup:        a.Startup,
		OnShutdown:       a.Shutdown,
		Bind:             []any{a},
		ErrorFormatter:   app.FormatError,
		Linux:            &linux.Options{ProgramName: "wardsync", WebviewGpuPolicy: linux.WebviewGpuPolicyNever},
	})
}
