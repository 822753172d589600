package api

import (
	"net/netip"
	"testing"
	"time"
)

func TestFailureLimiterBlocksUntilTheBucketRefills(t *testing.T) {
	now := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	l := newFailureLimiter(3, 6*time.Second, func() time.Time { return now })
	a, b := netip.MustParseAddr("203.0.113.1"), netip.MustParseAddr("203.0.113.2")
	for i := range 3 {
		if w := l.reserve(a); w != 0 {
			t.Fatalf("attempt %d waits %v", i, w)
		}
	}
	if w := l.reserve(a); w != 6*time.Second {
		t.Fatalf("after the burst: wait %v, want 6s", w)
	}
	if w := l.reserve(b); w != 0 {
		t.Fatalf("another client waits %v", w)
	}
	now = now.Add(5 * time.Second)
	if w := l.reserve(a); w != time.Second {
		t.Fatalf("5 s on: wait %v, want 1s (refused attempts must not count)", w)
	}
	now = now.Add(time.Second)
	if w := l.reserve(a); w != 0 {
		t.Fatalf("once a failure is forgiven: wait %v", w)
	}
	if w := l.reserve(a); w != 6*time.Second {
		t.Fatalf("one failure later: wait %v, want 6s", w)
	}

	// Attempts that did not fail are given back.
	for range 3 {
		if w := l.reserve(b); w != 0 {
			break
		}
		l.forgive(b)
	}
	if w := l.reserve(b); w != 0 {
		t.Fatalf("forgiven attempts still count: wait %v", w)
	}
}

func TestFailureLimiterCountsAnIPv6ClientByItsSlash64(t *testing.T) {
	now := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	l := newFailureLimiter(2, time.Minute, func() time.Time { return now })
	for _, ip := range []string{"2001:db8::1", "2001:db8::ffff:2"} {
		if w := l.reserve(netip.MustParseAddr(ip)); w != 0 {
			t.Fatalf("%s waits %v", ip, w)
		}
	}
	if w := l.reserve(netip.MustParseAddr("2001:db8::3")); w != time.Minute {
		t.Fatalf("a third address in the same /64: wait %v, want 1m", w)
	}
	if w := l.reserve(netip.MustParseAddr("2001:db8:0:1::1")); w != 0 {
		t.Fatalf("the next /64 waits %v", w)
	}
}

func TestFailureLimiterForgetsClientsThatOweNothing(t *testing.T) {
	now := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	l := newFailureLimiter(10, time.Second, func() time.Time { return now })
	client := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}) }
	for i := range minSweep {
		l.reserve(client(i))
	}
	l.reserve(client(0))
	if len(l.freeAt) != minSweep {
		t.Fatalf("%d clients remembered, want %d", len(l.freeAt), minSweep)
	}
	now = now.Add(1500 * time.Millisecond) // every client but client 0 owes nothing
	l.reserve(client(minSweep))
	if len(l.freeAt) != 2 || l.sweepAt != minSweep {
		t.Fatalf("after the sweep: %d clients remembered (want 2), next sweep at %d", len(l.freeAt), l.sweepAt)
	}
	if w := l.reserve(client(1)); w != 0 {
		t.Fatalf("a forgotten client waits %v", w)
	}
}
