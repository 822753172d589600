package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"clearmap/internal/features"
	"clearmap/internal/store"
)

// TestItemsFailing checks the two ways a page can fail: before anything is
// sent, with a problem (500 for a bug); after the status and some features
// have gone, by cutting the response short, so a client cannot take the
// part for a whole page.
func TestItemsFailing(t *testing.T) {
	var logs bytes.Buffer
	a := &api{Deps: Deps{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Reads: store.NewPools(nil, nil, 0)}}
	fail := errors.New("the disk is on fire")
	saved := collections
	t.Cleanup(func() { collections = saved })
	collections = append(collections[:len(collections):len(collections)],
		collection{id: "early", list: func(context.Context, *pgxpool.Pool, features.Query, *features.Sink) (features.Page, error) {
			return features.Page{}, fail
		}},
		collection{id: "late", list: func(_ context.Context, _ *pgxpool.Pool, _ features.Query, s *features.Sink) (features.Page, error) {
			if err := s.Start(features.Page{}); err != nil {
				return features.Page{}, err
			}
			// More than the buffers hold, so the status and these
			// features have reached the client.
			for i := range 2000 {
				if i > 0 {
					s.W.WriteByte(',')
				}
				s.W.WriteString(`{"type":"Feature","id":1,"geometry":null,"properties":{"padding":"................................"}}`)
			}
			return features.Page{Returned: 2000}, fail
		}})
	r := chi.NewRouter()
	r.Get("/ogc/collections/{collection}/items", a.ogcItems)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)

	resp, err := http.Get(srv.URL + "/ogc/collections/early/items")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 500 || resp.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(string(body), "internal error") {
		t.Errorf("early failure: %d %s %v", resp.StatusCode, body, err)
	}

	resp, err = http.Get(srv.URL + "/ogc/collections/late/items")
	if err != nil {
		t.Fatal(err)
	}
	body, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !errors.Is(err, io.ErrUnexpectedEOF) || !strings.HasPrefix(string(body), `{"type":"FeatureCollection","features":[{"type":"Feature"`) ||
		strings.Contains(string(body), "numberReturned") {
		t.Errorf("late failure: %d %v %q", resp.StatusCode, err, body)
	}
	if !strings.Contains(logs.String(), "page cut short") || !strings.Contains(logs.String(), "the disk is on fire") {
		t.Errorf("logs: %s", logs.String())
	}
}
