package wardtest

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is a PostgreSQL cluster a test owns, initialised in a temporary
// folder and run on its own port: restarting it troubles no other test,
// and other packages' long transactions (the xid horizon is cluster-wide)
// do not hold back its change feeds, as they would on the shared cluster.
type Cluster struct {
	dir, bin string     // its folder; that of initdb and pg_ctl
	asUser   string     // they run as this OS user ("": as ourselves)
	url      string     // with %s for the database's name
	opts     string     // postgres's settings, on its command line
	mu       sync.Mutex // one restart, or the stop, at a time
}

// StartCluster initialises and starts a new cluster. initdb and postgres
// refuse to run as root, so as root they run as the postgres user, in a
// folder under the system temp folder that user can reach.
func StartCluster() (_ *Cluster, err error) {
	pgCtl, err := exec.LookPath(PGBin("pg_ctl"))
	if err != nil {
		return nil, fmt.Errorf("no PostgreSQL binaries (initdb, pg_ctl) found: %w", err)
	}
	c := &Cluster{bin: filepath.Dir(pgCtl)}
	if os.Geteuid() == 0 {
		c.asUser = "postgres"
		if _, err := user.Lookup(c.asUser); err != nil {
			return nil, fmt.Errorf("running as root needs a %q OS user for PostgreSQL (scripts/pg.sh creates it): %w", c.asUser, err)
		}
	}
	if c.dir, err = os.MkdirTemp("", "wardsync-soak-pg-"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(c.dir)
		}
	}()
	password, pwfile := rand.Text(), filepath.Join(c.dir, "pw")
	if err := os.WriteFile(pwfile, []byte(password+"\n"), 0o600); err != nil {
		return nil, err
	}
	if c.asUser != "" {
		if out, err := exec.Command("chown", "-R", c.asUser, c.dir).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("chown %s: %v: %s", c.dir, err, out)
		}
	}
	if out, err := c.command("initdb", "-D", c.data(), "-U", "wardsync", "--pwfile="+pwfile, "-A", "scram-sha-256", "-E", "UTF8",
		"--locale=C.UTF-8", "--no-sync").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	// Restarted on this port (Restart): below the range of outgoing
	// connections' ports, so no client's connection takes it meanwhile.
	addr, err := ListenAddr()
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	c.url = "postgres://wardsync:" + password + "@127.0.0.1:" + port + "/%s?sslmode=disable"
	c.opts = "-c listen_addresses=127.0.0.1 -p " + port + " -k " + c.dir + " -c max_connections=200 -c shared_buffers=64MB" +
		" -c fsync=off -c full_page_writes=off -c synchronous_commit=on -c idle_in_transaction_session_timeout=10min -c log_min_messages=warning"
	return c, c.start()
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

func (c *Cluster) command(name string, args ...string) *exec.Cmd {
	bin := filepath.Join(c.bin, name)
	if c.asUser != "" {
		return exec.Command("runuser", append([]string{"-u", c.asUser, "--", bin}, args...)...)
	}
	return exec.Command(bin, args...)
}

// ctl runs pg_ctl on the cluster's data folder.
func (c *Cluster) ctl(args ...string) error {
	if out, err := c.command("pg_ctl", append([]string{"-D", c.data()}, args...)...).CombinedOutput(); err != nil {
		return fmt.Errorf("pg_ctl %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

func (c *Cluster) start() error {
	return c.ctl("-o", c.opts, "-l", filepath.Join(c.dir, "server.log"), "-w", "-t", "60", "start")
}

// URL names a database of the cluster.
func (c *Cluster) URL(db string) string { return fmt.Sprintf(c.url, db) }

// CreateDB creates an empty database and returns its URL (SeededDB
// migrates and seeds it).
func (c *Cluster) CreateDB(ctx context.Context, name string) (string, error) {
	return c.URL(name), c.exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize())
}

// DropDB drops a database, closing its connections.
func (c *Cluster) DropDB(ctx context.Context, name string) error {
	return c.exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{name}.Sanitize()+` WITH (FORCE)`)
}

// exec runs one statement on the cluster's postgres database.
func (c *Cluster) exec(ctx context.Context, q string) error {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, q)
	return err
}

// Restart stops the cluster (mode immediate: as a crash would, fast: as an
// operator would), keeps it down for down, and starts it again.
func (c *Cluster) Restart(mode string, down time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ctl("-m", mode, "-w", "-t", "60", "stop"); err != nil {
		return err
	}
	time.Sleep(down)
	return c.start()
}

// Stop kills the cluster and removes its folder.
func (c *Cluster) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ctl("-m", "immediate", "-w", "stop")
	os.RemoveAll(c.dir)
}
