package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"wardsync/server/certs"
)

// certInit is `wardsync-server cert init`: a local CA (kept when the folder
// already has one) and a server certificate signed by it. It needs no
// database.
func certInit(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("cert init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "tls", "folder for ca.pem, ca-key.pem, server.pem and server-key.pem")
	hosts := fs.String("hosts", "", "comma-separated names and addresses workstations use to reach the server, besides localhost and 127.0.0.1")
	if err := parseWithEnv(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("cert init: unexpected argument %q (names go in -hosts a,b)", fs.Arg(0))
	}
	f, err := certs.Init(*dir, strings.Split(*hosts, ","), time.Now())
	if err != nil {
		return err
	}
	ca := "created"
	if f.CAKept {
		ca = "kept (it signed the new certificate)"
	}
	fmt.Fprintf(stdout, "CA %s: %s — give this file to every workstation (-ca-file, or the setup screen)\n", ca, f.CA)
	fmt.Fprintf(stdout, "CA key: %s — keep it secret; it signs server certificates\n", f.CAKey)
	fmt.Fprintf(stdout, "server certificate: %s, key %s\n", f.Cert, f.Key)
	fmt.Fprintf(stdout, "  wardsync-server serve -tls-cert %s -tls-key %s\n", f.Cert, f.Key)
	fmt.Fprintf(stdout, "server key pin (optional, workstation -pin): %s\n", f.Pin)
	return nil
}

// reloadOnHangup re-reads the certificate files on SIGHUP until ctx ends,
// so that a renewed certificate is served without dropping a connection.
// A failed reload keeps the current certificate and says why. The signal
// is caught from the moment it returns.
func reloadOnHangup(ctx context.Context, cert *certs.Reloader, logger *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go hangupLoop(ctx, hup, cert, logger)
}

func hangupLoop(ctx context.Context, hup chan os.Signal, cert *certs.Reloader, logger *slog.Logger) {
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if err := cert.Reload(); err != nil {
				logger.Error("TLS certificate not reloaded; still serving the previous one", "err", err)
				continue
			}
			logger.Info("TLS certificate reloaded", "subject", cert.Leaf().Subject.String(), "not_after", cert.Leaf().NotAfter)
		}
	}
}
