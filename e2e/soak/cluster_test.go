package soak

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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

	"wardsync/internal/wardtest"
	"wardsync/server/postgres"
)

// cluster is a PostgreSQL cluster the long soak owns: initialised in a
// temporary folder, on its own port, so that restarting it troubles no
// other test (the project cluster is shared by every package).
type cluster struct {
	dir, port, password string
	bin                 string
	asUser              string // run pg_ctl as this OS user ("" = as ourselves)
	mu                  sync.Mutex
	restarts            int
	templated           bool
}

func (c *cluster) command(name string, args ...string) *exec.Cmd {
	bin := filepath.Join(c.bin, name)
	if c.asUser != "" {
		return exec.Command("runuser", append([]string{"-u", c.asUser, "--", bin}, args...)...)
	}
	return exec.Command(bin, args...)
}

// startCluster initialises and starts a new cluster. initdb and postgres
// refuse to run as root, so as root they run as the postgres user, in a
// folder under the system temp folder that user can reach.
func startCluster() (*cluster, error) {
	pgCtl, err := exec.LookPath(wardtest.PGBin("pg_ctl"))
	if err != nil {
		return nil, fmt.Errorf("no PostgreSQL binaries (initdb, pg_ctl) found: %w", err)
	}
	c := &cluster{bin: filepath.Dir(pgCtl)}
	base := os.TempDir()
	if os.Geteuid() == 0 {
		c.asUser = "postgres"
		if _, err := user.Lookup(c.asUser); err != nil {
			return nil, fmt.Errorf("running as root needs a %q OS user for PostgreSQL (scripts/pg.sh creates it): %w", c.asUser, err)
		}
	}
	c.dir, err = os.MkdirTemp(base, "wardsync-soak-pg-")
	if err != nil {
		return nil, err
	}
	b := make([]byte, 12)
	rand.Read(b)
	c.password = hex.EncodeToString(b)
	pwfile := filepath.Join(c.dir, "pw")
	if err := os.WriteFile(pwfile, []byte(c.password+"\n"), 0o600); err != nil {
		return nil, err
	}
	data := filepath.Join(c.dir, "data")
	if c.asUser != "" {
		if out, err := exec.Command("chown", "-R", c.asUser, c.dir).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("chown %s: %v: %s", c.dir, err, out)
		}
	}
	if out, err := c.command("initdb", "-D", data, "-U", "wardsync", "--pwfile="+pwfile, "-A", "scram-sha-256", "-E", "UTF8",
		"--locale=C.UTF-8", "--no-sync").CombinedOutput(); err != nil {
		os.RemoveAll(c.dir)
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	// Restarted on this port (a PostgreSQL restart fault): below the range
	// of outgoing connections' ports, so no client's connection takes it.
	addr, err := wardtest.ListenAddr()
	if err != nil {
		return nil, err
	}
	_, c.port, _ = net.SplitHostPort(addr)
	conf := fmt.Sprintf(`
listen_addresses = '127.0.0.1'
port = %s
unix_socket_directories = '%s'
max_connections = 200
shared_buffers = 64MB
fsync = off
full_page_writes = off
synchronous_commit = on
idle_in_transaction_session_timeout = '10min'
log_min_messages = warning
`, c.port, c.dir)
	f, err := os.OpenFile(filepath.Join(data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	f.WriteString(conf)
	f.Close()
	if out, err := c.command("pg_ctl", "-D", data, "-l", filepath.Join(c.dir, "server.log"), "-w", "-t", "60", "start").CombinedOutput(); err != nil {
		os.RemoveAll(c.dir)
		return nil, fmt.Errorf("pg_ctl start: %v: %s", err, out)
	}
	return c, nil
}

// url names a database of the cluster.
func (c *cluster) url(db string) string {
	return fmt.Sprintf("postgres://wardsync:%s@127.0.0.1:%s/%s?sslmode=disable", c.password, c.port, db)
}

// createDB creates a fresh database, cloned from a migrated template
// (made on first use), and returns its URL.
func (c *cluster) createDB(ctx context.Context, name string) (string, error) {
	conn, err := c.connect(ctx, "postgres")
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.templated {
		if _, err := conn.Exec(ctx, `CREATE DATABASE soak_template`); err != nil {
			return "", err
		}
		db, err := postgres.Open(ctx, c.url("soak_template"), postgres.DefaultConfig())
		if err != nil {
			return "", err
		}
		_, err = db.Migrate(ctx)
		db.Close(ctx)
		if err != nil {
			return "", fmt.Errorf("migrate the template: %w", err)
		}
		c.templated = true
	}
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()+` TEMPLATE soak_template`); err != nil {
		return "", err
	}
	return c.url(name), nil
}

func (c *cluster) dropDB(ctx context.Context, name string) {
	conn, err := c.connect(ctx, "postgres")
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	conn.Exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{name}.Sanitize()+` WITH (FORCE)`)
}

// connect retries while the cluster restarts.
func (c *cluster) connect(ctx context.Context, db string) (*pgx.Conn, error) {
	var err error
	for i := 0; i < 100; i++ {
		var conn *pgx.Conn
		if conn, err = pgx.Connect(ctx, c.url(db)); err == nil {
			return conn, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil, err
}

// restart stops the cluster (immediate: as a crash would, fast: as an
// operator would), keeps it down for down, and starts it again.
func (c *cluster) restart(mode string, down time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.restarts++
	data := filepath.Join(c.dir, "data")
	if out, err := c.command("pg_ctl", "-D", data, "-m", mode, "-w", "-t", "60", "stop").CombinedOutput(); err != nil {
		return fmt.Errorf("pg_ctl stop -m %s: %v: %s", mode, err, out)
	}
	time.Sleep(down)
	if out, err := c.command("pg_ctl", "-D", data, "-l", filepath.Join(c.dir, "server.log"), "-w", "-t", "60", "start").CombinedOutput(); err != nil {
		return fmt.Errorf("pg_ctl start: %v: %s", err, out)
	}
	return nil
}

// running says whether the cluster answers.
func (c *cluster) running() bool {
	out, err := c.command("pg_ctl", "-D", filepath.Join(c.dir, "data"), "status").CombinedOutput()
	return err == nil && strings.Contains(string(out), "server is running")
}

func (c *cluster) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.command("pg_ctl", "-D", filepath.Join(c.dir, "data"), "-m", "immediate", "-w", "stop").Run()
	os.RemoveAll(c.dir)
}
