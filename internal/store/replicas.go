package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// LSN is a position in PostgreSQL's write-ahead log (pg_lsn): a standby
// that has replayed up to it shows every transaction committed before it.
type LSN uint64

// NoLSN is beyond every position: what the standbys have replayed when no
// standby can be read from (reads then go to the primary, which has it all).
const NoLSN = LSN(math.MaxUint64)

// String gives the LSN in pg_lsn's text form.
func (l LSN) String() string { return fmt.Sprintf("%X/%X", uint64(l)>>32, uint32(l)) }

// WAL page and segment sizes (PostgreSQL's defaults), and the headers a
// page and a segment's first page begin with.
const (
	walPage, walSegment             = 8192, 16 << 20
	walPageHeader, walSegmentHeader = 24, 40
)

// Replayable is what a standby's replay position shows once it has
// replayed everything before the insert position l. A record never ends
// just past a page's header, where an insert position can stand; replay
// then stops at the page's start, and waiting for l itself would wait for
// the next record, which an idle primary may not write for a long time.
func (l LSN) Replayable() LSN {
	switch {
	case l%walSegment == walSegmentHeader:
		return l - walSegmentHeader
	case l%walPage == walPageHeader:
		return l - walPageHeader
	}
	return l
}

// ScanLSN reads a pg_lsn's text form (NULL is 0).
func ScanLSN(s *string) (LSN, error) {
	if s == nil {
		return 0, nil
	}
	var hi, lo uint32
	if _, err := fmt.Sscanf(*s, "%X/%X", &hi, &lo); err != nil {
		return 0, fmt.Errorf("pg_lsn %q: %w", *s, err)
	}
	return LSN(uint64(hi)<<32 | uint64(lo)), nil
}

// Pools routes reads: every write, LISTEN and migration goes to the
// primary, and a read goes to a standby (a streaming hot standby,
// CLEARMAP_READ_DATABASE_URL) that is up, lags the primary by at most
// MaxLag, and has replayed what the read must show: the client's own
// writes (see WithClient and Wrote) and whatever the caller asks for. When
// no standby qualifies, the read goes to the primary. Without standbys
// every read goes to the primary, as with one pool.
//
// What the standbys have replayed is polled by Watch; reads use what the
// last poll saw, which a standby has replayed at least (replay only moves
// on).
type Pools struct {
	// Primary takes writes, and reads no standby can answer.
	Primary  *pgxpool.Pool
	standbys []*standby
	maxLag   time.Duration
	next     atomic.Uint64 // round robin over the standbys that qualify
}

// standby is one standby's pool and what the last poll found.
type standby struct {
	pool     *pgxpool.Pool
	name     string // host:port, for logs
	replayed atomic.Uint64
	usable   atomic.Bool
	lag      atomic.Int64 // nanoseconds
}

// NewPools routes reads over the standbys' pools (none: every read goes to
// the primary); a standby lagging more than maxLag is skipped.
func NewPools(primary *pgxpool.Pool, standbys []*pgxpool.Pool, maxLag time.Duration) *Pools {
	p := &Pools{Primary: primary, maxLag: maxLag}
	for _, pool := range standbys {
		cfg := pool.Config().ConnConfig
		p.standbys = append(p.standbys, &standby{pool: pool, name: fmt.Sprintf("%s:%d", cfg.Host, cfg.Port)})
	}
	return p
}

// CloseStandbys closes the standbys' pools; the primary's is its opener's
// to close.
func (p *Pools) CloseStandbys() {
	for _, s := range p.standbys {
		s.pool.Close()
	}
}

// HasStandbys tells whether any standby is configured.
func (p *Pools) HasStandbys() bool { return len(p.standbys) > 0 }

// Reader returns the pool a read in ctx goes to: a usable standby that has
// replayed at least after and the client's own last write, else the
// primary. It fails only when the client's last write cannot be looked up.
func (p *Pools) Reader(ctx context.Context, after LSN) (*pgxpool.Pool, error) {
	if !p.anyReplayed(after) {
		return p.Primary, nil
	}
	wrote, err := p.ClientWrote(ctx)
	if err != nil {
		return nil, err
	}
	after = max(after, wrote)
	n := uint64(len(p.standbys))
	start := p.next.Add(1)
	for i := range n {
		s := p.standbys[(start+i)%n]
		if s.usable.Load() && LSN(s.replayed.Load()) >= after {
			return s.pool, nil
		}
	}
	return p.Primary, nil
}

// anyReplayed tells whether some usable standby has replayed at least lsn.
func (p *Pools) anyReplayed(lsn LSN) bool {
	for _, s := range p.standbys {
		if s.usable.Load() && LSN(s.replayed.Load()) >= lsn {
			return true
		}
	}
	return false
}

// Replayed returns what every usable standby has replayed (the least of
// them), or NoLSN when none is usable: a change before it shows on every
// pool Reader may choose.
func (p *Pools) Replayed() LSN {
	least := NoLSN
	for _, s := range p.standbys {
		if s.usable.Load() {
			least = min(least, LSN(s.replayed.Load()))
		}
	}
	return least
}

// StandbyState is what the last poll found of one standby.
type StandbyState struct {
	Name     string
	Usable   bool
	Replayed LSN
	Lag      time.Duration
}

// Standbys reports each standby's state, in the order given to NewPools.
func (p *Pools) Standbys() []StandbyState {
	states := make([]StandbyState, len(p.standbys))
	for i, s := range p.standbys {
		states[i] = StandbyState{Name: s.name, Usable: s.usable.Load(), Replayed: LSN(s.replayed.Load()), Lag: time.Duration(s.lag.Load())}
	}
	return states
}

// clientKey carries a *client in a context.
type clientKey struct{}

// client is a request's client: whose own writes its reads must show. Its
// last write is looked up once per request, when a read first needs it.
type client struct {
	tokenID int64
	once    sync.Once
	wrote   LSN
	err     error
}

// WithClient returns ctx for a request of the token tokenID, one that may
// write: its reads will show its own writes at once (see Wrote).
func WithClient(ctx context.Context, tokenID int64) context.Context {
	return context.WithValue(ctx, clientKey{}, &client{tokenID: tokenID})
}

// ClientWrote returns where the primary's WAL stood just after the last
// write of ctx's client (0 when it has none, or ctx has no client): a
// standby must have replayed it to answer that client. It is read from the
// primary, so whichever server took the write, every server knows.
func (p *Pools) ClientWrote(ctx context.Context) (LSN, error) {
	c, ok := ctx.Value(clientKey{}).(*client)
	if !ok || !p.HasStandbys() {
		return 0, nil
	}
	c.once.Do(func() {
		var lsn *string
		err := p.Primary.QueryRow(ctx, "SELECT lsn::text FROM token_writes WHERE token_id = $1", c.tokenID).Scan(&lsn)
		if errors.Is(err, pgx.ErrNoRows) {
			return
		}
		if err == nil {
			c.wrote, err = ScanLSN(lsn)
		}
		if err != nil {
			c.err = fmt.Errorf("the client's last write: %w", err)
		}
	})
	return c.wrote, c.err
}

// Wrote records that ctx's client has just written (its transaction has
// committed): from now on its reads go to a standby only once that standby
// has replayed past where the primary's WAL now stands. It does nothing
// without standbys, or when ctx has no client.
//
// The position is the WAL's insert position, taken after the write
// committed, so at or beyond its commit record whether or not the commit
// waited for the disk; it is kept in the database, not in the server's
// memory, so that the client's next request sees it whichever server it
// reaches.
func (p *Pools) Wrote(ctx context.Context) error {
	c, ok := ctx.Value(clientKey{}).(*client)
	if !ok || !p.HasStandbys() {
		return nil
	}
	_, err := p.Primary.Exec(ctx, `
		INSERT INTO token_writes AS w (token_id, lsn) VALUES ($1, pg_current_wal_insert_lsn())
		ON CONFLICT (token_id) DO UPDATE SET lsn = greatest(w.lsn, excluded.lsn)`, c.tokenID)
	if err != nil {
		return fmt.Errorf("record the client's write: %w", err)
	}
	return nil
}

// sample is where the primary's WAL stood at a time.
type sample struct {
	at  time.Time
	lsn LSN
}

// Watch polls the primary and every standby every interval until ctx
// ends, and decides which standbys reads may use: those that answer, are
// still in recovery (a promoted standby is a primary of its own, no longer
// following this one) and lag by at most the maximum. A standby's lag is
// how long ago the primary's WAL first stood beyond what the standby has
// replayed: 0 when it has replayed all the primary had at the last poll,
// however long the primary has been idle (pg_last_xact_replay_timestamp
// would call an idle primary's standby late).
func (p *Pools) Watch(ctx context.Context, logger *slog.Logger, interval time.Duration) {
	if !p.HasStandbys() {
		return
	}
	var history []sample // oldest first, kept for the maximum lag
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		now := time.Now()
		if lsn, err := p.primaryLSN(ctx, interval); err == nil {
			history = append(history, sample{now, lsn})
		}
		for len(history) > 1 && now.Sub(history[1].at) > p.maxLag+interval {
			history = history[1:]
		}
		for _, s := range p.standbys {
			p.poll(ctx, logger, s, history, now, interval)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// primaryLSN asks the primary how far its WAL is written: what a standby
// can have. (The insert position can stand just past a page's header,
// which a standby's replay position never does, so an idle primary would
// seem to be ahead of a standby that has all of it.)
func (p *Pools) primaryLSN(ctx context.Context, timeout time.Duration) (LSN, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var lsn *string
	if err := p.Primary.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&lsn); err != nil {
		return 0, err
	}
	return ScanLSN(lsn)
}

// poll asks one standby what it has replayed and decides whether reads may
// use it.
func (p *Pools) poll(ctx context.Context, logger *slog.Logger, s *standby, history []sample, now time.Time, timeout time.Duration) {
	qctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var recovering bool
	var text *string
	err := s.pool.QueryRow(qctx, "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text").Scan(&recovering, &text)
	var replayed LSN
	if err == nil {
		replayed, err = ScanLSN(text)
	}
	lag := time.Duration(0)
	if err == nil && len(history) > 0 {
		// The oldest position it has not replayed; history[0] may predate
		// the window, and then the lag is at least that old.
		for _, h := range history {
			if h.lsn > replayed {
				lag = now.Sub(h.at)
				break
			}
		}
	}
	why := ""
	switch {
	case ctx.Err() != nil:
		return
	case err != nil:
		why = "unreachable: " + err.Error()
	case !recovering:
		why = "not a standby (promoted?)"
	case len(history) == 0:
		why = "the primary has not answered, so its lag is unknown"
	case lag > p.maxLag:
		why = fmt.Sprintf("lags %s, more than %s", lag.Round(time.Millisecond), p.maxLag)
	}
	if err == nil {
		s.replayed.Store(uint64(replayed))
	}
	s.lag.Store(int64(lag))
	usable := why == ""
	if was := s.usable.Swap(usable); was != usable {
		if usable {
			logger.Info("reading from standby", "standby", s.name, "replayed", replayed, "lag", lag.Round(time.Millisecond))
		} else {
			logger.Warn("standby skipped; its reads go to the primary", "standby", s.name, "why", why)
		}
	}
}
