package api

import (
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
)

// client is who sent a request and how they addressed the service.
type client struct {
	ip     netip.Addr
	scheme string // "http" or "https"
	host   string // host[:port], as the client asked for it
}

// origin is the service's origin as the client sees it: scheme://host[:port].
func (c client) origin() string {
	return c.scheme + "://" + c.host
}

// clientOf works out the client of r from the connection, believing the
// X-Forwarded-For, X-Forwarded-Proto and X-Forwarded-Host headers only when
// the connection comes from a trusted proxy: anyone else could write them.
// The client's address is then the rightmost one in X-Forwarded-For that is
// not itself a trusted proxy (addresses to its left are the client's own
// claims); the scheme and host are the last values given, which the nearest
// proxy added.
func clientOf(r *http.Request, trusted []netip.Prefix) client {
	c := client{scheme: "http", host: r.Host}
	if r.TLS != nil {
		c.scheme = "https"
	}
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return c
	}
	c.ip = peer.Addr().Unmap()
	if !isTrusted(c.ip, trusted) {
		return c
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0 && isTrusted(c.ip, trusted); i-- {
		hop, ok := parseHop(hops[i])
		if !ok {
			break // a proxy we trust wrote nonsense: the last address we know is as far as we can see
		}
		c.ip = hop
	}
	if p := strings.ToLower(lastValue(r.Header.Values("X-Forwarded-Proto"))); p == "http" || p == "https" {
		c.scheme = p
	}
	if h := lastValue(r.Header.Values("X-Forwarded-Host")); validHost.MatchString(h) {
		c.host = h
	}
	return c
}

// isTrusted says whether ip is one of the trusted proxies.
func isTrusted(ip netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// parseHop reads one X-Forwarded-For entry: an address, with or without a
// port.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if ip, err := netip.ParseAddr(s); err == nil {
		return ip.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

// lastValue is the last of a header's comma-separated values.
func lastValue(values []string) string {
	if len(values) == 0 {
		return ""
	}
	v := values[len(values)-1]
	return strings.TrimSpace(v[strings.LastIndex(v, ",")+1:])
}

// validHost matches a host name or IP address with an optional port, and
// nothing that could change the meaning of a URL built from it.
var validHost = regexp.MustCompile(`^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$`)

// clientFrom returns the request's client, as logRequests worked it out.
func clientFrom(r *http.Request) client {
	return infoFrom(r.Context()).client
}

// baseURL is the service's address as the client sees it, for absolute
// links.
func baseURL(r *http.Request) string {
	return clientFrom(r).origin()
}

// fromOtherSite says whether a browser sent r from a page of another site:
// it says Sec-Fetch-Site: cross-site, or its Origin names another host (or
// port) than the one the client asked for. The scheme is not compared, so
// a proxy that ends TLS and passes the Host on works even when it is not
// trusted. Requests without either header (tools, old browsers) are not
// from another site.
func fromOtherSite(r *http.Request) bool {
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return true
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return false
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
		return true // "null" and other opaque origins are not ours
	}
	c := clientFrom(r)
	return !strings.EqualFold(withoutDefaultPort(u.Host, u.Scheme), withoutDefaultPort(c.host, c.scheme))
}

// withoutDefaultPort drops the scheme's default port from host, as browsers
// do in Origin.
func withoutDefaultPort(host, scheme string) string {
	switch strings.ToLower(scheme) {
	case "http":
		return strings.TrimSuffix(host, ":80")
	case "https":
		return strings.TrimSuffix(host, ":443")
	}
	return host
}
