package config

import (
	"flag"
	"io"
	"log/slog"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestEveryVariableSetsItsFlagAndFlagsWin(t *testing.T) {
	env := map[string]string{
		"DATABASE_URL":                    "postgres://db.example/clearmap",
		"CLEARMAP_READ_DATABASE_URL":      " postgres://standby1.example/clearmap\tpostgres://standby2.example,standby3.example/clearmap?target_session_attrs=standby ",
		"CLEARMAP_MAX_REPLICA_LAG":        "3s",
		"CLEARMAP_ADDR":                   "0.0.0.0:9000",
		"CLEARMAP_LOG_FORMAT":             "json",
		"CLEARMAP_LOG_LEVEL":              "debug",
		"CLEARMAP_DB_MAX_CONNS":           "25",
		"CLEARMAP_STATEMENT_TIMEOUT":      "5s",
		"CLEARMAP_SHUTDOWN_TIMEOUT":       "1m",
		"CLEARMAP_MAX_UPLOAD_BYTES":       "1000",
		"CLEARMAP_TARGET_ACRES":           "33000",
		"CLEARMAP_TILE_CACHE_MB":          "0",
		"CLEARMAP_UPLOADS_PER_MINUTE":     "5",
		"CLEARMAP_METRICS_ADDR":           "127.0.0.1:9464",
		"CLEARMAP_TRUSTED_PROXIES":        "10.0.0.0/8, 127.0.0.1,::1, 192.168.1.7/24",
		"CLEARMAP_UPLOAD_CONCURRENCY":     "3",
		"CLEARMAP_REJECTED_BYTES_PER_DAY": "2048",
		"CLEARMAP_BASEMAP":                "/srv/pakistan.pmtiles",
		"CLEARMAP_CORS_ORIGINS":           "https://dash.example, HTTP://Localhost:3000",
	}
	if len(env) != len(settings) {
		t.Fatalf("test covers %d variables, config has %d", len(env), len(settings))
	}
	var c Config
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	if err := c.Register(fs, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if err := fs.Parse([]string{"--addr", "127.0.0.1:1234"}); err != nil {
		t.Fatal(err)
	}
	want := Config{
		DatabaseURL: "postgres://db.example/clearmap", Addr: "127.0.0.1:1234",
		ReadDatabaseURLs: URLs{"postgres://standby1.example/clearmap", "postgres://standby2.example,standby3.example/clearmap?target_session_attrs=standby"},
		MaxReplicaLag:    3 * time.Second,
		LogFormat:        "json", LogLevel: slog.LevelDebug, DBMaxConns: 25,
		StatementTimeout: 5 * time.Second, ShutdownTimeout: time.Minute, MaxUploadBytes: 1000, TargetAcres: 33000,
		UploadsPerMinute: 5, UploadConcurrency: 3, RejectedBytesPerDay: 2048, MetricsAddr: "127.0.0.1:9464",
		Basemap:     "/srv/pakistan.pmtiles",
		CORSOrigins: Origins{"https://dash.example", "http://localhost:3000"},
		TrustedProxies: Prefixes{
			netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32"),
			netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("192.168.1.0/24"),
		},
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v\nwant %+v", c, want)
	}
}

func TestDefaults(t *testing.T) {
	var c Config
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	if err := c.Register(fs, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	fs.Parse(nil)
	if c.DatabaseURL != DefaultDatabaseURL || c.Addr != "127.0.0.1:8080" || c.LogFormat != "text" || c.Check() != nil ||
		c.MetricsAddr != "" || len(c.TrustedProxies) != 0 || c.UploadConcurrency != 4 || c.RejectedBytesPerDay != 64<<20 ||
		c.Basemap != "" || c.CORSOrigins != nil || c.ReadDatabaseURLs != nil || c.MaxReplicaLag != 10*time.Second {
		t.Fatalf("defaults %+v", c)
	}
}

func TestBadValuesNameTheVariable(t *testing.T) {
	for k, v := range map[string]string{
		"CLEARMAP_LOG_FORMAT":        "xml",
		"CLEARMAP_LOG_LEVEL":         "loud",
		"CLEARMAP_DB_MAX_CONNS":      "many",
		"CLEARMAP_STATEMENT_TIMEOUT": "30",
		"CLEARMAP_TRUSTED_PROXIES":   "10.0.0.1,proxy.example",
		"CLEARMAP_CORS_ORIGINS":      "https://dash.example/",
		"CLEARMAP_MAX_REPLICA_LAG":   "10",
	} {
		var c Config
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		err := c.Register(fs, func(key string) string {
			if key == k {
				return v
			}
			return ""
		})
		if err == nil || !strings.HasPrefix(err.Error(), k+"=") {
			t.Errorf("%s=%s: %v", k, v, err)
		}
	}
}

func TestTrustedProxiesNameTheBadEntry(t *testing.T) {
	for _, c := range []struct{ value, msg string }{
		{"10.0.0.0/33", `"10.0.0.0/33" is not an IP address or CIDR prefix`},
		{"10.0.0.1,,10.0.0.2", `"" is not an IP address or CIDR prefix`},
		{"proxy.example", `"proxy.example" is not an IP address or CIDR prefix`},
	} {
		var p Prefixes
		if err := p.Set(c.value); err == nil || !strings.Contains(err.Error(), c.msg) || p != nil {
			t.Errorf("%q: %v, kept %v", c.value, err, p)
		}
	}
	// A flag replaces what the environment gave.
	var p Prefixes
	if err := p.Set("10.0.0.0/8"); err != nil {
		t.Fatal(err)
	}
	if err := p.Set("::1"); err != nil || len(p) != 1 || p.String() != "::1/128" {
		t.Fatalf("second Set: %v %v", p, err)
	}
	if err := p.Set(""); err != nil || p != nil {
		t.Fatalf("an empty value must trust no one: %v %v", p, err)
	}
}

func TestUploadsLeaveConnectionsForReads(t *testing.T) {
	var c Config
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	if err := c.Register(fs, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	c.DBMaxConns, c.UploadConcurrency = 4, 4
	if err := c.Check(); err == nil || !strings.Contains(err.Error(), "upload-concurrency must be at least 1 and below db-max-conns") {
		t.Fatalf("4 uploads at once on 4 connections: %v", err)
	}
	c.UploadConcurrency = 3
	if err := c.Check(); err != nil {
		t.Fatalf("3 uploads at once on 4 connections: %v", err)
	}
}

func TestCORSOriginsAreOrigins(t *testing.T) {
	for _, bad := range []string{"dash.example", "https://dash.example/", "https://dash.example/app", "ftp://dash.example",
		"https://user@dash.example", "https://dash.example?x=1", "https://", "https://a.example,,https://b.example"} {
		o := Origins{"https://kept.example"}
		if err := o.Set(bad); err == nil || !strings.Contains(err.Error(), "is not an origin") || len(o) != 1 {
			t.Errorf("%q: %v, list %v", bad, err, o)
		}
	}
	var o Origins
	if err := o.Set(" * , https://Dash.Example:8443"); err != nil || !reflect.DeepEqual(o, Origins{"*", "https://dash.example:8443"}) {
		t.Fatalf("%v %v", o, err)
	}
	if err := o.Set(""); err != nil || o != nil {
		t.Fatalf("an empty value must allow no origin: %v %v", o, err)
	}
}
