package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"clearmap/internal/testdb"
)

// TestWebAppInChromium runs web/e2e in Debian's Chromium against a real
// server on a throwaway database: sign-in, the map, an upload and its
// receipt, the crop filter, a bad file's problems, keyboard and phone width.
// `make test` installs Chromium and the npm packages first; screenshots go
// to web/e2e/screenshots.
func TestWebAppInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a browser")
	}
	web, _ := filepath.Abs("../../web")
	for _, need := range []string{"/usr/bin/chromium", filepath.Join(web, "node_modules/playwright-core")} {
		if _, err := os.Stat(need); err != nil {
			t.Fatalf("%s is missing: run `make test`, which installs it", need)
		}
	}
	url := testdb.New(t)
	base, stdout, _, stop := startServe(t, url)
	defer stop()
	admin := regexp.MustCompile(`\bcm_[A-Za-z0-9_-]{43}\b`).FindString(stdout.String())
	r := clearmap(t, url, "token", "create", "--role", "uploader", "--name", "e2e-uploader")
	if admin == "" || r.code != 0 {
		t.Fatalf("tokens: admin %q, uploader %+v", admin, r)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "--test", "--test-reporter=spec", "e2e/")
	cmd.Dir = web
	sample, _ := filepath.Abs("../../geodata/sample-clearances.geojson")
	cmd.Env = append(os.Environ(),
		"CLEARMAP_URL="+base, "CLEARMAP_ADMIN="+admin, "CLEARMAP_UPLOADER="+strings.TrimSpace(r.stdout),
		"CLEARMAP_SAMPLE="+sample, "CLEARMAP_SCREENSHOTS="+filepath.Join(web, "e2e/screenshots"))
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("browser tests failed: %v", err)
	}
}
