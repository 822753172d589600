// Package config reads clearmap's settings from environment variables and the
// matching command-line flags; a flag wins over its variable.
package config

import (
	"flag"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// DefaultDatabaseURL is the database the README's set-up creates: `clearmap`
// on the local server, reached through its Unix socket as the current user.
const DefaultDatabaseURL = "postgres:///clearmap?host=/var/run/postgresql"

// Config is the configuration every clearmap command shares.
type Config struct {
	DatabaseURL string
	// ReadDatabaseURLs are streaming hot standbys of DatabaseURL that read
	// routes read from (none: every read goes to DatabaseURL).
	ReadDatabaseURLs URLs
	// MaxReplicaLag is how far behind the primary a standby may be and
	// still be read from.
	MaxReplicaLag    time.Duration
	Addr             string
	LogFormat        string
	LogLevel         slog.Level
	DBMaxConns       int
	StatementTimeout time.Duration
	ShutdownTimeout  time.Duration
	MaxUploadBytes   int64
	TargetAcres      float64
	TileCacheMB      int
	// UploadsPerMinute bounds each token's uploads (0: no bound).
	UploadsPerMinute int
	// MetricsAddr is where to serve /metrics without a token ("": nowhere).
	MetricsAddr string
	// TrustedProxies are the peers whose X-Forwarded-* headers are believed.
	TrustedProxies Prefixes
	// UploadConcurrency bounds the uploads checked and stored at once; it
	// is below DBMaxConns, so uploads never take every connection.
	UploadConcurrency int
	// RejectedBytesPerDay bounds what one token's rejected uploads of the
	// last 24 hours keep (0: no bound beyond the first MiB of each).
	RejectedBytesPerDay int64
	// Basemap is a PMTiles or MBTiles file whose tiles are served beneath
	// the map ("": none).
	Basemap string
	// CORSOrigins are the web origins whose scripts may call the API with
	// a token (empty: no CORS).
	CORSOrigins Origins
}

// URLs is a list of PostgreSQL URLs, set from a list separated by white
// space (a URL holds no white space; a multi-host URL holds commas, so a
// comma cannot separate them). They are read when the pools open, and a
// bad one is named then, its password hidden.
type URLs []string

// String lists the URLs as Set reads them.
func (u URLs) String() string { return strings.Join(u, " ") }

// Set replaces the list with the one in s.
func (u *URLs) Set(s string) error {
	*u = strings.Fields(s)
	return nil
}

// Origins is a list of web origins (scheme://host[:port]), or "*" for any,
// set from a comma-separated list.
type Origins []string

// String lists the origins as Set reads them.
func (o Origins) String() string { return strings.Join(o, ",") }

// Set replaces the list with the one in s, or leaves it alone and names the
// entry it cannot read. Origins are compared exactly with a browser's
// Origin header, so they are lowercased and must carry no path, not even
// "/".
func (o *Origins) Set(s string) error {
	var list Origins
	if strings.TrimSpace(s) == "" {
		*o = nil
		return nil
	}
	for _, entry := range strings.Split(s, ",") {
		entry = strings.ToLower(strings.TrimSpace(entry))
		if entry != "*" {
			u, err := url.Parse(entry)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
				u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(entry, "?") || strings.HasSuffix(entry, "#") {
				return fmt.Errorf("%q is not an origin: want scheme://host[:port], as http://localhost:3000, or *", entry)
			}
		}
		list = append(list, entry)
	}
	*o = list
	return nil
}

// Prefixes is a list of IP networks, set from comma-separated addresses
// and CIDR prefixes; an address stands for itself alone.
type Prefixes []netip.Prefix

// String lists the prefixes as Set reads them.
func (p Prefixes) String() string {
	s := make([]string, len(p))
	for i, prefix := range p {
		s[i] = prefix.String()
	}
	return strings.Join(s, ",")
}

// Set replaces the list with the one in s, or leaves it alone and names the
// entry it cannot read.
func (p *Prefixes) Set(s string) error {
	var list Prefixes
	if strings.TrimSpace(s) == "" {
		*p = nil
		return nil
	}
	for _, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		prefix, err := netip.ParsePrefix(entry)
		if ip, ipErr := netip.ParseAddr(entry); ipErr == nil {
			prefix, err = ip.Prefix(ip.BitLen())
		}
		if err != nil {
			return fmt.Errorf("%q is not an IP address or CIDR prefix", entry)
		}
		list = append(list, prefix.Masked())
	}
	*p = list
	return nil
}

// setting ties a flag to the environment variable that sets its default.
type setting struct {
	flag, env string
}

var settings = []setting{
	{"database-url", "DATABASE_URL"},
	{"read-database-url", "CLEARMAP_READ_DATABASE_URL"},
	{"max-replica-lag", "CLEARMAP_MAX_REPLICA_LAG"},
	{"addr", "CLEARMAP_ADDR"},
	{"log-format", "CLEARMAP_LOG_FORMAT"},
	{"log-level", "CLEARMAP_LOG_LEVEL"},
	{"db-max-conns", "CLEARMAP_DB_MAX_CONNS"},
	{"statement-timeout", "CLEARMAP_STATEMENT_TIMEOUT"},
	{"shutdown-timeout", "CLEARMAP_SHUTDOWN_TIMEOUT"},
	{"max-upload-bytes", "CLEARMAP_MAX_UPLOAD_BYTES"},
	{"target-acres", "CLEARMAP_TARGET_ACRES"},
	{"tile-cache-mb", "CLEARMAP_TILE_CACHE_MB"},
	{"uploads-per-minute", "CLEARMAP_UPLOADS_PER_MINUTE"},
	{"metrics-addr", "CLEARMAP_METRICS_ADDR"},
	{"trusted-proxies", "CLEARMAP_TRUSTED_PROXIES"},
	{"upload-concurrency", "CLEARMAP_UPLOAD_CONCURRENCY"},
	{"rejected-bytes-per-day", "CLEARMAP_REJECTED_BYTES_PER_DAY"},
	{"basemap", "CLEARMAP_BASEMAP"},
	{"cors-origins", "CLEARMAP_CORS_ORIGINS"},
}

// Register defines a flag for each setting on fs and applies the environment
// (read through getenv) as the flags' starting values. It fails on an
// environment value the flag cannot parse, naming the variable.
func (c *Config) Register(fs *flag.FlagSet, getenv func(string) string) error {
	fs.StringVar(&c.DatabaseURL, "database-url", DefaultDatabaseURL, "PostgreSQL URL (env DATABASE_URL)")
	fs.Var(&c.ReadDatabaseURLs, "read-database-url", "streaming hot standbys of the database, PostgreSQL URLs separated by spaces, that read routes read from; empty: every read goes to the primary (env CLEARMAP_READ_DATABASE_URL)")
	fs.DurationVar(&c.MaxReplicaLag, "max-replica-lag", 10*time.Second, "a standby further behind the primary than this is skipped (env CLEARMAP_MAX_REPLICA_LAG)")
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:8080", "address to listen on (env CLEARMAP_ADDR)")
	fs.Func("log-format", "log format: text or json (env CLEARMAP_LOG_FORMAT; default text)", func(s string) error {
		if s != "text" && s != "json" {
			return fmt.Errorf("want text or json")
		}
		c.LogFormat = s
		return nil
	})
	c.LogFormat = "text"
	fs.TextVar(&c.LogLevel, "log-level", slog.LevelInfo, "log level: debug, info, warn, error (env CLEARMAP_LOG_LEVEL)")
	fs.IntVar(&c.DBMaxConns, "db-max-conns", 10, "most database connections (env CLEARMAP_DB_MAX_CONNS)")
	fs.DurationVar(&c.StatementTimeout, "statement-timeout", 30*time.Second, "longest a database statement may run (env CLEARMAP_STATEMENT_TIMEOUT)")
	fs.Int64Var(&c.MaxUploadBytes, "max-upload-bytes", 64<<20, "largest upload body accepted, in bytes (env CLEARMAP_MAX_UPLOAD_BYTES)")
	fs.Float64Var(&c.TargetAcres, "target-acres", 40659, "national target in acres until a national reported figure is recorded (env CLEARMAP_TARGET_ACRES)")
	fs.IntVar(&c.TileCacheMB, "tile-cache-mb", 256, "tile cache size in MB; 0 turns it off (env CLEARMAP_TILE_CACHE_MB)")
	fs.IntVar(&c.UploadsPerMinute, "uploads-per-minute", 60, "uploads one token may make per minute, in bursts of up to 10; 0 lifts the bound (env CLEARMAP_UPLOADS_PER_MINUTE)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", "", "address to serve /metrics on without a token, for scrapers; empty: none (env CLEARMAP_METRICS_ADDR)")
	fs.Var(&c.TrustedProxies, "trusted-proxies", "comma-separated IP addresses and CIDR prefixes of reverse proxies whose X-Forwarded-For, -Proto and -Host are believed (env CLEARMAP_TRUSTED_PROXIES)")
	fs.IntVar(&c.UploadConcurrency, "upload-concurrency", 4, "uploads checked and stored at once, below db-max-conns; others wait up to 30 s, then 503 (env CLEARMAP_UPLOAD_CONCURRENCY)")
	fs.Int64Var(&c.RejectedBytesPerDay, "rejected-bytes-per-day", 64<<20, "bytes one token's rejected uploads of the last 24 hours may keep; 0 lifts the bound (env CLEARMAP_REJECTED_BYTES_PER_DAY)")
	fs.StringVar(&c.Basemap, "basemap", "", "a PMTiles or MBTiles file (vector or raster) served at /basemap and drawn beneath the web map; empty: none (env CLEARMAP_BASEMAP)")
	fs.Var(&c.CORSOrigins, "cors-origins", "comma-separated web origins (https://host:port) whose scripts may call the API with a token in Authorization, or * for any; never with cookies; empty: no CORS (env CLEARMAP_CORS_ORIGINS)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "how long a shutdown waits for requests in flight (env CLEARMAP_SHUTDOWN_TIMEOUT)")

	for _, s := range settings {
		v := getenv(s.env)
		if v == "" {
			continue
		}
		if err := fs.Set(s.flag, v); err != nil {
			return fmt.Errorf("%s=%q: %v", s.env, v, err)
		}
	}
	return nil
}

// Check reports settings that parse but make no sense.
func (c *Config) Check() error {
	var problems []string
	if c.DatabaseURL == "" {
		problems = append(problems, "database URL is empty")
	}
	if c.DBMaxConns < 1 {
		problems = append(problems, "db-max-conns must be at least 1")
	}
	if !(c.TargetAcres > 0) || math.IsInf(c.TargetAcres, 0) {
		problems = append(problems, "target-acres must be a number above 0")
	}
	if c.TileCacheMB < 0 {
		problems = append(problems, "tile-cache-mb cannot be negative")
	}
	if c.UploadsPerMinute < 0 {
		problems = append(problems, "uploads-per-minute cannot be negative")
	}
	if c.UploadConcurrency < 1 || c.UploadConcurrency >= c.DBMaxConns {
		problems = append(problems, "upload-concurrency must be at least 1 and below db-max-conns, so uploads leave connections for reads")
	}
	if c.RejectedBytesPerDay < 0 {
		problems = append(problems, "rejected-bytes-per-day cannot be negative")
	}
	if c.MaxUploadBytes < 1 {
		problems = append(problems, "max-upload-bytes must be at least 1")
	}
	if c.MaxReplicaLag <= 0 {
		problems = append(problems, "max-replica-lag must be above 0")
	}
	if c.StatementTimeout < 0 || c.ShutdownTimeout < 0 {
		problems = append(problems, "timeouts cannot be negative")
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}
