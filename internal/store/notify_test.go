package store_test

import (
	"context"
	"log/slog"
	"testing"

	"clearmap/internal/store"
	"clearmap/internal/testdb"
)

func TestWatchMovesSignalsAndSurvivesALostConnection(t *testing.T) {
	ctx := context.Background()
	pool := testdb.Migrated(t)
	var tilesSignal, tokensSignal store.Signal
	if _, live := tilesSignal.Version(); live {
		t.Fatal("a signal nobody watches is live")
	}
	watchCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		store.Watch(watchCtx, pool, slog.New(slog.DiscardHandler), map[string]*store.Signal{
			store.TileChangesChannel: &tilesSignal, store.TokensChannel: &tokensSignal})
		close(done)
	}()
	testdb.Eventually(t, "listening", func() bool { _, live := tilesSignal.Version(); return live })

	// The trigger notifies on a tile change; only that channel's signal moves.
	tiles0, _ := tilesSignal.Version()
	tokens0, _ := tokensSignal.Version()
	if _, err := pool.Exec(ctx, "INSERT INTO tile_changes (bbox) VALUES (NULL)"); err != nil {
		t.Fatal(err)
	}
	testdb.Eventually(t, "tile change notified", func() bool { v, _ := tilesSignal.Version(); return v != tiles0 })
	if v, _ := tokensSignal.Version(); v != tokens0 {
		t.Fatal("the tokens signal moved on a tile change")
	}
	// Revoking (an update of tokens) notifies the tokens channel.
	if _, err := pool.Exec(ctx, "UPDATE tokens SET revoked_at = now() WHERE false"); err != nil {
		t.Fatal(err)
	}
	testdb.Eventually(t, "token change notified", func() bool { v, _ := tokensSignal.Version(); return v != tokens0 })

	// The listener's backend killed: not live while it is gone, then live
	// again with the version moved (changes may have been missed).
	before, _ := tilesSignal.Version()
	var killed int
	err := pool.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN%'`).Scan(&killed)
	if err != nil || killed != 1 {
		t.Fatalf("terminated %d listeners, %v", killed, err)
	}
	testdb.Eventually(t, "loss noticed", func() bool { _, live := tilesSignal.Version(); return !live })
	testdb.Eventually(t, "listening again", func() bool { v, live := tilesSignal.Version(); return live && v != before })

	stop()
	<-done
	if _, live := tilesSignal.Version(); live {
		t.Fatal("still live after the watch stopped")
	}
}
