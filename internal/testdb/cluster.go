package testdb

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Cluster is a PostgreSQL server of a test's own: initdb'd into a temporary
// directory, listening on a free port of 127.0.0.1 and a socket in that
// directory, run as the postgres user (when the test runs as root), with
// trust authentication. Tests that stop, restart or kill a server do it to
// one of these, never to the machine's shared server (SPEC §9). It is
// stopped and removed when the test ends, whether it passed or not.
//
// StartStandby makes a streaming hot standby of one.
type Cluster struct {
	t     testing.TB
	bin   string   // the server binaries' directory
	runAs []string // the command prefix that runs a binary as the server's owner
	owner string   // the superuser, who owns the files
	dir   string   // everything of the cluster's: data, socket, log
	port  int
}

// serverBinaries is where Debian and Ubuntu install each major version's
// server binaries.
const serverBinaries = "/usr/lib/postgresql/*/bin"

// StartCluster starts a new empty cluster, with PostGIS available to
// CREATE EXTENSION. It skips the test when no PostgreSQL server binaries
// are installed.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	c := newCluster(t)
	c.run("initdb", "-D", c.data(), "-U", c.owner, "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8")
	c.configure()
	c.Start()
	return c
}

// configure points the data directory's server at the cluster's port and
// socket. (A copied data directory needs it too: it names the original's.)
func (c *Cluster) configure() {
	c.t.Helper()
	conf, err := os.OpenFile(filepath.Join(c.data(), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		c.t.Fatalf("testdb: cluster: %v", err)
	}
	// Throwaway data: no fsync, so a test does not wait on the disk.
	_, err = fmt.Fprintf(conf, "\nlisten_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = '%s'\nfsync = off\nfull_page_writes = off\n",
		c.port, c.socket())
	if cerr := conf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		c.t.Fatalf("testdb: cluster: %v", err)
	}
}

// newCluster finds the newest installed server binaries, makes the
// cluster's directory (owned by the user the server runs as), picks a free
// port, and arranges for the cluster to be stopped and removed when the
// test ends.
func newCluster(t testing.TB) *Cluster {
	t.Helper()
	bin := newestServerBinaries()
	if bin == "" {
		t.Skip("no PostgreSQL server binaries (initdb, pg_ctl) under " + serverBinaries + ": this test needs a server of its own to stop and start")
	}
	c := &Cluster{t: t, bin: bin}
	uid, gid := -1, -1
	if os.Geteuid() == 0 {
		// The server refuses to run as root.
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("testdb: cluster: running as root, so the server must run as postgres: %v", err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		c.runAs, c.owner = []string{"runuser", "-u", "postgres", "--"}, "postgres"
	} else {
		u, err := user.Current()
		if err != nil {
			t.Fatalf("testdb: cluster: %v", err)
		}
		c.owner = u.Username
	}
	dir, err := os.MkdirTemp("", "clearmap-pg-")
	if err != nil {
		t.Fatalf("testdb: cluster: %v", err)
	}
	c.dir = dir
	t.Cleanup(c.remove)
	if err := os.Mkdir(c.socket(), 0o700); err != nil {
		t.Fatalf("testdb: cluster: %v", err)
	}
	if uid >= 0 {
		for _, p := range []string{dir, c.socket()} {
			if err := os.Chown(p, uid, gid); err != nil {
				t.Fatalf("testdb: cluster: %v", err)
			}
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testdb: cluster: free port: %v", err)
	}
	c.port = ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		t.Fatalf("testdb: cluster: free port: %v", err)
	}
	return c
}

// newestServerBinaries returns the bin directory of the highest installed
// major version with PostGIS, else of the highest, or "" when there is none.
func newestServerBinaries() string {
	dirs, err := filepath.Glob(serverBinaries)
	if err != nil {
		return ""
	}
	major := func(dir string) int {
		n, err := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
		if err != nil {
			return -1
		}
		return n
	}
	dirs = slices.DeleteFunc(dirs, func(d string) bool {
		_, initdb := os.Stat(filepath.Join(d, "initdb"))
		_, pgCtl := os.Stat(filepath.Join(d, "pg_ctl"))
		return major(d) < 0 || initdb != nil || pgCtl != nil
	})
	if len(dirs) == 0 {
		return ""
	}
	postgis := func(dir string) int {
		_, err := os.Stat(filepath.Join("/usr/share/postgresql", strconv.Itoa(major(dir)), "extension", "postgis.control"))
		if err != nil {
			return 0
		}
		return 1
	}
	return slices.MaxFunc(dirs, func(a, b string) int {
		if p := postgis(a) - postgis(b); p != 0 {
			return p
		}
		return major(a) - major(b)
	})
}

func (c *Cluster) data() string   { return filepath.Join(c.dir, "data") }
func (c *Cluster) socket() string { return filepath.Join(c.dir, "socket") }

// URL is the cluster's postgres database, as its superuser over TCP.
func (c *Cluster) URL() string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/postgres?sslmode=disable", c.owner, c.port)
}

// Start starts the stopped cluster and waits until it accepts connections.
func (c *Cluster) Start() {
	c.t.Helper()
	c.run("pg_ctl", "-D", c.data(), "-l", filepath.Join(c.dir, "log"), "-w", "-t", "60", "start")
}

// Stop stops the cluster in fast mode: open sessions are ended, as in a
// crash-free restart.
func (c *Cluster) Stop() {
	c.t.Helper()
	c.run("pg_ctl", "-D", c.data(), "-m", "fast", "-w", "-t", "60", "stop")
}

// WithBoundaries is the package's WithBoundaries on this cluster: a new
// migrated database with the shipped boundaries. It is not dropped at the
// test's end: the cluster, which may be stopped by then, goes whole.
func (c *Cluster) WithBoundaries(t testing.TB) *pgxpool.Pool {
	t.Helper()
	return withBoundaries(t, c.URL(), false)
}

// DatabaseURL is the URL of the cluster's database name (as its superuser,
// over TCP): on a standby, the copy of the primary's database of that name.
func (c *Cluster) DatabaseURL(name string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", c.owner, c.port, name)
}

// Port is the port the cluster listens on.
func (c *Cluster) Port() int { return c.port }

// StartStandby starts a streaming hot standby of the running cluster c:
// its data directory copied by pg_basebackup -R (initdb's pg_hba trusts
// replication from 127.0.0.1), which also points it at c, in a directory
// of its own on a port of its own. It replays what c commits after
// applyDelay (recovery_min_apply_delay; 0: at once), so a test can make it
// lag. It is stopped and removed when the test ends.
func (c *Cluster) StartStandby(t testing.TB, applyDelay time.Duration) *Cluster {
	t.Helper()
	s := newCluster(t)
	s.run("pg_basebackup", "-D", s.data(), "-d", c.URL(), "-R", "-X", "stream", "-c", "fast")
	s.configure()
	s.Configure(fmt.Sprintf("recovery_min_apply_delay = '%dms'", applyDelay.Milliseconds()))
	s.Start()
	return s
}

// Configure appends settings (lines of postgresql.conf) to the cluster's
// configuration, to take effect at its next start or Reload.
func (c *Cluster) Configure(settings string) {
	c.t.Helper()
	conf, err := os.OpenFile(filepath.Join(c.data(), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		c.t.Fatalf("testdb: cluster: %v", err)
	}
	_, err = fmt.Fprintf(conf, "\n%s\n", settings)
	if cerr := conf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		c.t.Fatalf("testdb: cluster: %v", err)
	}
}

// Reload makes the running cluster read its configuration again.
func (c *Cluster) Reload() {
	c.t.Helper()
	c.run("pg_ctl", "-D", c.data(), "reload")
}

// Promote ends a standby's recovery: it becomes a primary, taking writes.
func (c *Cluster) Promote() {
	c.t.Helper()
	c.run("pg_ctl", "-D", c.data(), "-w", "-t", "60", "promote")
}

// run runs one of the server binaries as the cluster's owner, failing the
// test with its output if it fails.
func (c *Cluster) run(name string, args ...string) {
	c.t.Helper()
	argv := append(slices.Clone(c.runAs), append([]string{filepath.Join(c.bin, name)}, args...)...)
	if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "log"))
		c.t.Fatalf("testdb: cluster: %s: %v\n%s\nserver log:\n%s", name, err, out, log)
	}
}

// remove stops the server at once, whatever state it is in, and deletes
// its files.
func (c *Cluster) remove() {
	if _, err := os.Stat(filepath.Join(c.data(), "postmaster.pid")); err == nil {
		argv := append(slices.Clone(c.runAs), filepath.Join(c.bin, "pg_ctl"), "-D", c.data(), "-m", "immediate", "-w", "stop")
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			c.t.Errorf("testdb: cluster: stop: %v\n%s", err, out)
		}
	}
	if err := os.RemoveAll(c.dir); err != nil {
		c.t.Errorf("testdb: cluster: %v", err)
	}
}
