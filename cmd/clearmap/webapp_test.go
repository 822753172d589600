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
	web := browserReady(t)
	url := testdb.New(t)
	base, stdout, _, stop := startServe(t, url)
	defer stop()
	admin := firstToken(stdout.String())
	r := clearmap(t, url, "token", "create", "--role", "uploader", "--name", "e2e-uploader")
	if admin == "" || r.code != 0 {
		t.Fatalf("tokens: admin %q, uploader %+v", admin, r)
	}
	sample, _ := filepath.Abs("../../geodata/sample-clearances.geojson")
	runE2E(t, web, "e2e/", 5*time.Minute, "CLEARMAP_URL="+base, "CLEARMAP_ADMIN="+admin,
		"CLEARMAP_UPLOADER="+strings.TrimSpace(r.stdout), "CLEARMAP_SAMPLE="+sample)
}

// browserReady returns the web folder, skipping under -short and failing
// unless Chromium and playwright-core are installed.
func browserReady(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("drives a browser")
	}
	web, _ := filepath.Abs("../../web")
	for _, need := range []string{"/usr/bin/chromium", filepath.Join(web, "node_modules/playwright-core")} {
		if _, err := os.Stat(need); err != nil {
			t.Fatalf("%s is missing: run `make test`, which installs it", need)
		}
	}
	return web
}

// firstToken is the admin token a first start prints.
func firstToken(stdout string) string {
	return regexp.MustCompile(`\bcm_[A-Za-z0-9_-]{43}\b`).FindString(stdout)
}

// runE2E runs the browser tests in target (a file or folder of web/) with
// node --test, the given environment added, screenshots going to
// web/e2e/screenshots; it fails the test if they fail, and returns what
// node printed.
func runE2E(t *testing.T, web, target string, timeout time.Duration, env ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "--test", "--test-reporter=spec", target)
	cmd.Dir = web
	cmd.Env = append(append(os.Environ(), "CLEARMAP_SCREENSHOTS="+filepath.Join(web, "e2e/screenshots")), env...)
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("browser tests in %s failed: %v", target, err)
	}
	return string(out)
}
