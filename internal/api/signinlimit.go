package api

import (
	"net/netip"
	"sync"
	"time"
)

// Failed sign-ins allowed per client: a burst of signInBurst, then one more
// every signInRefill (ten a minute). Tokens are too long to guess, so this
// is about keeping guessers off the database, not about the odds.
const (
	signInBurst  = 10
	signInRefill = 6 * time.Second
)

// minSweep is the number of clients remembered before the first sweep for
// those that have been forgiven everything.
const minSweep = 1024

// failureLimiter counts each client's failed attempts in a token bucket,
// kept as the time at which the client will owe nothing (a generic cell
// rate algorithm): each failure moves it on by one refill; a client may
// try while it is at most burst-1 refills ahead of now. An IPv6 client is
// counted by its /64, which one host can fill with addresses.
type failureLimiter struct {
	burst   int
	refill  time.Duration
	now     func() time.Time
	mu      sync.Mutex
	freeAt  map[netip.Addr]time.Time // when each client owes nothing
	sweepAt int
}

func newFailureLimiter(burst int, refill time.Duration, now func() time.Time) *failureLimiter {
	return &failureLimiter{burst: burst, refill: refill, now: now, freeAt: map[netip.Addr]time.Time{}, sweepAt: minSweep}
}

// key is the address that stands for ip's client.
func (l *failureLimiter) key(ip netip.Addr) netip.Addr {
	if ip.Is6() {
		return netip.PrefixFrom(ip, 64).Masked().Addr()
	}
	return ip
}

// reserve counts an attempt by ip as failed before it is made, so attempts
// made at once cannot overrun the bucket, and returns 0; or, when the
// client has failed too often, counts nothing and returns how long it must
// wait. An attempt that turns out not to fail is given back with forgive.
func (l *failureLimiter) reserve(ip netip.Addr) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now, k := l.now(), l.key(ip)
	freeAt := l.freeAt[k]
	if freeAt.Before(now) {
		freeAt = now
	}
	if wait := freeAt.Sub(now) - time.Duration(l.burst-1)*l.refill; wait > 0 {
		return wait
	}
	if _, known := l.freeAt[k]; !known && len(l.freeAt) >= l.sweepAt {
		l.sweep(now)
	}
	l.freeAt[k] = freeAt.Add(l.refill)
	return 0
}

// forgive gives back an attempt reserve counted.
func (l *failureLimiter) forgive(ip netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := l.key(ip)
	if freeAt, ok := l.freeAt[k]; ok {
		l.freeAt[k] = freeAt.Add(-l.refill)
	}
}

// sweep forgets the clients that owe nothing, and sets the size at which
// to sweep next to twice what is left, so sweeps cost O(1) per client.
func (l *failureLimiter) sweep(now time.Time) {
	for k, freeAt := range l.freeAt {
		if !freeAt.After(now) {
			delete(l.freeAt, k)
		}
	}
	l.sweepAt = max(minSweep, 2*len(l.freeAt))
}
