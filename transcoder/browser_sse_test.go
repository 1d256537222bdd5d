//go:build linux

package transcoder_test

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/portico-gw/portico/internal/testbackend"
	"github.com/portico-gw/portico/transcoder"
)

// TestBrowserEventSource has headless Chromium read Server-Sent Events
// streams from Portico with a plain EventSource, cross-origin: a stream
// that ends cleanly, and one whose in-band error event reaches the page
// with its code. It shares the Chromium harness of TestBrowserGRPCWeb.
func TestBrowserEventSource(t *testing.T) {
	if os.Getenv("PORTICO_SKIP_BROWSER") == "1" {
		t.Skip("PORTICO_SKIP_BROWSER=1: browser test skipped")
	}
	const chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("the browser test needs %s (%v): install it with `apt-get install -y chromium`, or set PORTICO_SKIP_BROWSER=1", chromium, err)
	}
	page := startPageServer(t, filepath.Join("..", "browser", "src", "sse.html"), "")
	backend := testbackend.Start(t, "sse")
	gw := startGateway(t, "reflection", transcoder.Options{CORS: transcoder.CORSOptions{AllowedOrigins: []string{page.origin}}}, backend)

	pageURL := page.origin + "/index.html?gateway=" + url.QueryEscape(gw.url)
	results, chromiumOutput := runChromium(t, chromium, pageURL, page.results, 60*time.Second, func() string { return "" })
	defer func() {
		if t.Failed() {
			pretty, _ := json.MarshalIndent(results, "", "  ")
			t.Logf("page results:\n%s\nchromium log:\n%s", pretty, chromiumOutput)
		}
	}()
	if results.Fatal != "" {
		t.Fatalf("page failed: %s", results.Fatal)
	}

	ok := results.Calls["sse_ok"]
	if ok == nil || !ok.OK || len(ok.Items) != 3 || ok.Error != nil {
		t.Fatalf("clean stream: %+v", ok)
	}
	var last struct {
		Index int    `json:"index"`
		Text  string `json:"text"`
	}
	if err := json.Unmarshal(ok.Items[2], &last); err != nil || last.Index != 2 || last.Text != "sse" {
		t.Errorf("third message %s: %v", ok.Items[2], err)
	}

	failed := results.Calls["sse_error"]
	if failed == nil || len(failed.Items) != 2 || failed.Error == nil || failed.Error.Code != 5 {
		t.Fatalf("failing stream: %+v, want two messages and an error event with code 5", failed)
	}
}
