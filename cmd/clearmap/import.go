package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"clearmap/internal/config"
	"clearmap/internal/ingest"
)

// importFiles uploads files from the command line with the same rules and
// receipt as the API. It fails (exit 1) if any file is rejected.
func importFiles(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs, err := newFlags("import", e, &cfg)
	if err != nil {
		return err
	}
	crop := fs.String("crop", "", "crop for features that lack one: poppy or cannabis")
	clearedOn := fs.String("cleared-on", "", "date (YYYY-MM-DD) for features that lack one")
	team := fs.String("team", "", "team for features that lack one")
	partial := fs.Bool("partial", false, "store the valid features even if some are not")
	files, err := parse(fs, &cfg, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usageError{"want one or more FILEs, or - for standard input"}
	}
	defaults, err := ingest.ParseDefaults(*crop, *clearedOn, *team, ingest.Today(time.Now()))
	if err != nil {
		return usageError{err.Error()}
	}

	pool, err := openCurrent(ctx, &cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	svc := &ingest.Service{DB: pool}
	var failed []string
	for _, name := range files {
		res, err := importFile(ctx, e, svc, name, ingest.Upload{Defaults: defaults, Partial: *partial, Uploader: actor()})
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		enc.Encode(res.Receipt)
		if res.Outcome == ingest.Rejected {
			failed = append(failed, name+": "+res.Receipt.Error)
		}
	}
	if len(failed) > 0 {
		return errors.New("rejected: " + strings.Join(failed, "; "))
	}
	return nil
}

func importFile(ctx context.Context, e env, svc *ingest.Service, name string, u ingest.Upload) (ingest.Result, error) {
	var r io.Reader = os.Stdin
	var size int64 = -1
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return ingest.Result{}, err
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil {
			size = st.Size()
		}
		r = f
	}
	br := bufio.NewReader(r)
	first, _ := br.Peek(1)
	u.Body = br
	u.Format = ingest.FileFormat(name, first)
	u.ContentType = map[ingest.Format]string{
		ingest.Document: "application/geo+json",
		ingest.Lines:    "application/x-ndjson",
		ingest.Sequence: "application/geo+json-seq",
	}[u.Format]
	if isTerminal(e.stderr) {
		u.Progress = progressBar(e.stderr, name, size)
	}
	return svc.Store(ctx, u)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressBar draws decoding progress on one terminal line, at most ten
// times a second.
func progressBar(w io.Writer, name string, size int64) func(int64) {
	var last time.Time
	return func(done int64) {
		if done < 0 {
			fmt.Fprintf(w, "\r\033[K%s: checking in PostGIS…\n", name)
			return
		}
		if time.Since(last) < 100*time.Millisecond {
			return
		}
		last = time.Now()
		if size <= 0 {
			fmt.Fprintf(w, "\r\033[K%s: %.1f MB read", name, float64(done)/1e6)
			return
		}
		const width = 30
		filled := int(width * done / size)
		fmt.Fprintf(w, "\r\033[K%s [%s%s] %3d%% %.1f/%.1f MB", name,
			strings.Repeat("#", filled), strings.Repeat(" ", width-filled), 100*done/size, float64(done)/1e6, float64(size)/1e6)
	}
}
