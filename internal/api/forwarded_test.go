package api_test

import (
	"net/netip"
	"strings"
	"testing"

	"clearmap/internal/api"
	"clearmap/internal/auth"
	"clearmap/internal/testdb"
)

// tilesURL fetches /tiles.json with the headers given as name, value pairs
// and returns its tile URL.
func tilesURL(t *testing.T, s *service, token string, header ...string) string {
	t.Helper()
	r := s.send(t, "GET", "/tiles.json", token, nil, header...)
	var tj struct{ Tiles []string }
	r.json(t, &tj)
	if r.status != 200 || len(tj.Tiles) != 1 {
		t.Fatalf("tiles.json: %d %s", r.status, r.body)
	}
	return tj.Tiles[0]
}

func TestForwardedHostAndProtoOnlyFromTrustedProxies(t *testing.T) {
	spoofed := []string{"X-Forwarded-Proto", "https", "X-Forwarded-Host", "evil.example"}

	direct := start(t, testdb.WithBoundaries(t)) // trusts no proxy
	analyst, err := auth.Create(t.Context(), direct.pool, "t-analyst", auth.Analyst, "test")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tilesURL(t, direct, analyst, spoofed...), direct.url+"/tiles/{z}/{x}/{y}.mvt"; got != want {
		t.Fatalf("an untrusted client's X-Forwarded-Host moved the tiles: %s, want %s", got, want)
	}
	r := direct.send(t, "GET", "/ogc", analyst, nil, spoofed...)
	if r.status != 200 || strings.Contains(r.body, "evil.example") || !strings.Contains(r.body, `"href":"`+direct.url+`/ogc`) {
		t.Fatalf("OGC links from an untrusted client's headers: %d %.400s", r.status, r.body)
	}

	proxied := startWith(t, testdb.WithBoundaries(t), func(d *api.Deps) {
		d.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("127.0.0.0/8")}
	})
	analyst, err = auth.Create(t.Context(), proxied.pool, "t-analyst", auth.Analyst, "test")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tilesURL(t, proxied, analyst, "X-Forwarded-Proto", "https", "X-Forwarded-Host", "maps.example.org"),
		"https://maps.example.org/tiles/{z}/{x}/{y}.mvt"; got != want {
		t.Fatalf("behind a trusted proxy: %s, want %s", got, want)
	}
	// A proxy that appends: the last value is the one it added.
	if got, want := tilesURL(t, proxied, analyst, "X-Forwarded-Proto", "http, https", "X-Forwarded-Host", "evil.example, maps.example.org:8443"),
		"https://maps.example.org:8443/tiles/{z}/{x}/{y}.mvt"; got != want {
		t.Fatalf("appended headers: %s, want %s", got, want)
	}
	// Nonsense is ignored, even from a trusted proxy.
	if got, want := tilesURL(t, proxied, analyst, "X-Forwarded-Proto", "gopher", "X-Forwarded-Host", "evil.example/x?"),
		proxied.url+"/tiles/{z}/{x}/{y}.mvt"; got != want {
		t.Fatalf("malformed headers: %s, want %s", got, want)
	}
}
