// Command httpbench measures GET latency against a clearmap on this machine:
// each URL is fetched -n times by -c concurrent workers (after -warm
// unmeasured fetches), and one Markdown table row per URL gives requests/s,
// p50, p99 and the largest latency. Any status but 200 and 204 is an error.
//
//	httpbench -token $TOKEN -n 1000 -c 4 http://127.0.0.1:8080/api/v1/summary ...
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"
)

func main() {
	n := flag.Int("n", 1000, "measured requests per URL")
	c := flag.Int("c", 4, "concurrent workers")
	warm := flag.Int("warm", 20, "unmeasured requests per URL first")
	token := flag.String("token", os.Getenv("CLEARMAP_TOKEN"), "bearer token (env CLEARMAP_TOKEN)")
	gzip := flag.Bool("gzip", false, "send Accept-Encoding: gzip (Go's client otherwise asks for gzip on its own)")
	flag.Parse()
	if flag.NArg() == 0 || *n < 1 || *c < 1 {
		fmt.Fprintln(os.Stderr, "usage: httpbench [-n N] [-c C] [-token T] URL...")
		os.Exit(2)
	}
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *c, DisableCompression: !*gzip}}
	fmt.Println("| URL | requests | req/s | p50 ms | p99 ms | max ms |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, url := range flag.Args() {
		for i := 0; i < *warm; i++ {
			if _, err := fetch(client, url, *token); err != nil {
				fmt.Fprintln(os.Stderr, "httpbench:", err)
				os.Exit(1)
			}
		}
		latencies, elapsed, err := run(client, url, *token, *n, *c)
		if err != nil {
			fmt.Fprintln(os.Stderr, "httpbench:", err)
			os.Exit(1)
		}
		slices.Sort(latencies)
		ms := func(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d.Microseconds())/1000) }
		fmt.Printf("| %s | %d | %.0f | %s | %s | %s |\n", url, *n, float64(*n)/elapsed.Seconds(),
			ms(latencies[len(latencies)/2]), ms(latencies[len(latencies)*99/100]), ms(latencies[len(latencies)-1]))
	}
}

// run makes n requests with c workers and returns each one's latency.
func run(client *http.Client, url, token string, n, c int) ([]time.Duration, time.Duration, error) {
	latencies := make([]time.Duration, n)
	jobs := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	start := time.Now()
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				d, err := fetch(client, url, token)
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
				}
				latencies[i] = d
			}
		}()
	}
	for i := 0; i < n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return latencies, time.Since(start), firstErr
}

func fetch(client *http.Client, url, token string) (time.Duration, error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return 0, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if resp.StatusCode != 200 && resp.StatusCode != 204 {
		return d, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return d, err
}
