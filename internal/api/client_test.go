package api

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientOf(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	for _, c := range []struct {
		name, peer, xff, proto, host string
		want                         client
	}{
		{"direct", "198.51.100.1:4000", "", "", "", client{netip.MustParseAddr("198.51.100.1"), "http", "svc.test"}},
		{"untrusted peer's headers are ignored", "198.51.100.1:4000", "203.0.113.9", "https", "evil.example",
			client{netip.MustParseAddr("198.51.100.1"), "http", "svc.test"}},
		{"trusted peer without headers", "10.0.0.2:4000", "", "", "", client{netip.MustParseAddr("10.0.0.2"), "http", "svc.test"}},
		{"rightmost untrusted address", "10.0.0.2:4000", "192.0.2.1, 203.0.113.9, 10.0.0.3", "https", "maps.example.org",
			client{netip.MustParseAddr("203.0.113.9"), "https", "maps.example.org"}},
		{"entries with ports", "[::1]:4000", "[2001:db8::7]:1234", "", "", client{netip.MustParseAddr("2001:db8::7"), "http", "svc.test"}},
		{"IPv4 in IPv6", "[::ffff:10.0.0.2]:4000", "::ffff:203.0.113.9", "", "", client{netip.MustParseAddr("203.0.113.9"), "http", "svc.test"}},
		{"garbage stops the walk", "10.0.0.2:4000", "203.0.113.9, junk, 10.0.0.3", "", "", client{netip.MustParseAddr("10.0.0.3"), "http", "svc.test"}},
		{"every hop trusted", "10.0.0.2:4000", "10.0.0.4, 10.0.0.3", "", "", client{netip.MustParseAddr("10.0.0.4"), "http", "svc.test"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "http://svc.test/tiles.json", nil)
			r.RemoteAddr = c.peer
			for k, v := range map[string]string{"X-Forwarded-For": c.xff, "X-Forwarded-Proto": c.proto, "X-Forwarded-Host": c.host} {
				if v != "" {
					r.Header.Set(k, v)
				}
			}
			if got := clientOf(r, trusted); got != c.want {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
}
