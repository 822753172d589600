package api

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// uploadBurst is how many uploads a token may make at once before the
// per-minute rate applies: a team syncing a morning's forms.
const uploadBurst = 10

// limiter keeps one token bucket per API token. Only authenticated tokens
// get one, so the map grows with the tokens issued, not with guesses.
type limiter struct {
	perMinute int
	mu        sync.Mutex
	buckets   map[int64]*rate.Limiter
}

func newLimiter(perMinute int) *limiter {
	return &limiter{perMinute: perMinute, buckets: map[int64]*rate.Limiter{}}
}

// limitUploads answers 429, with Retry-After, to a token past its rate.
func (a *api) limitUploads(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l := a.uploads
		if l.perMinute == 0 {
			next.ServeHTTP(w, r)
			return
		}
		id := tokenFrom(r.Context()).ID
		l.mu.Lock()
		b, ok := l.buckets[id]
		if !ok {
			b = rate.NewLimiter(rate.Limit(float64(l.perMinute)/60), uploadBurst)
			l.buckets[id] = b
		}
		res := b.Reserve()
		wait := res.Delay()
		if wait > 0 {
			res.Cancel() // refused requests do not use up the bucket
		}
		l.mu.Unlock()
		if wait > 0 {
			writeError(w, http.StatusTooManyRequests, "too many uploads from this token: at most "+
				strconv.Itoa(l.perMinute)+" a minute; retry in "+retryAfter(w, wait)+" s")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// retryAfter tells the client, in Retry-After, to wait whole seconds until
// wait has passed, and returns them.
func retryAfter(w http.ResponseWriter, wait time.Duration) string {
	seconds := strconv.Itoa(int(math.Ceil(wait.Seconds())))
	w.Header().Set("Retry-After", seconds)
	return seconds
}
