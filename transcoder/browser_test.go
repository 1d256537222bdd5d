//go:build linux

package transcoder_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portico-gw/portico/internal/testbackend"
	"github.com/portico-gw/portico/transcoder"
)

// TestBrowserGRPCWeb has a real browser call Portico over gRPC-Web: headless
// Chromium opens browser/src/index.html, whose script (browser/src/main.js,
// bundled into browser/dist/bundle.js) uses Google's grpc-web client in both
// formats, text (application/grpc-web-text) and binary
// (application/grpc-web+proto), for a unary call with custom metadata, a
// server stream, an error, and a metadata round trip. The page is served
// from its own loopback origin, so every call is cross-origin: Chromium
// sends real CORS preflights and enforces Portico's answers. The page POSTs
// what it saw to /results on its own origin; the test checks it.
//
// Requirements:
//
//   - /usr/bin/chromium: `apt-get install -y --no-install-recommends
//     chromium` (.ci/run installs it when missing). Without it the test
//     FAILS rather than skips, so CI cannot silently lose browser coverage.
//     Set PORTICO_SKIP_BROWSER=1 to skip it deliberately (say, on a laptop
//     without Chromium).
//   - node and npm. The bundle is built by `make browser` (.ci/run runs it);
//     when browser/dist/bundle.js is missing or older than its sources, the
//     test builds it itself the same way: `npm ci` in browser/ if
//     node_modules is missing or older than package-lock.json, then
//     `npm run build` (esbuild).
//
// Chromium runs in a process group of its own that the test kills and reaps;
// to reap all of it the test process becomes a child subreaper (see
// runChromium). Linux only, like the /usr/bin/chromium it expects.
func TestBrowserGRPCWeb(t *testing.T) {
	if os.Getenv("PORTICO_SKIP_BROWSER") == "1" {
		t.Skip("PORTICO_SKIP_BROWSER=1: browser test skipped")
	}
	const chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("the gRPC-Web browser test needs %s (%v): install it with "+
			"`apt-get update && apt-get install -y --no-install-recommends chromium`, "+
			"or set PORTICO_SKIP_BROWSER=1 to skip this test", chromium, err)
	}
	browserDir, err := filepath.Abs(filepath.Join("..", "browser"))
	if err != nil {
		t.Fatal(err)
	}
	bundle := ensureBrowserBundle(t, browserDir)

	// The page's origin: its own server, started first so that the gateway
	// can allow exactly this origin.
	page := startPageServer(t, filepath.Join(browserDir, "src", "index.html"), bundle)

	backend := testbackend.Start(t, "browser")
	gw := startGateway(t, "reflection", transcoder.Options{CORS: transcoder.CORSOptions{
		AllowedOrigins: []string{page.origin},
		// The page's custom metadata header. Grpc-Metadata-* would be
		// allowed without this; a plain custom header, gRPC-Web's own way of
		// sending metadata, must be listed.
		AllowedHeaders: []string{"X-Portico-Browser"},
	}}, backend)
	// The browser reaches the gateway through a recorder, so the test can
	// check that preflights really happened.
	rec := &requestRecorder{next: gw.handler}
	gatewayURL := serveH2C(t, rec)

	pageURL := page.origin + "/index.html?gateway=" + url.QueryEscape(gatewayURL)
	diag := func() string { return "gateway requests:\n" + strings.Join(rec.lines(), "\n") }
	results, chromiumOutput := runChromium(t, chromium, pageURL, page.results, 60*time.Second, diag)
	defer func() {
		if t.Failed() {
			pretty, _ := json.MarshalIndent(results, "", "  ")
			t.Logf("page results:\n%s", pretty)
			t.Log(diag())
			t.Logf("chromium log:\n%s", chromiumOutput)
		}
	}()

	if results.Fatal != "" {
		t.Fatalf("page failed: %s", results.Fatal)
	}
	if results.PageOrigin != page.origin {
		t.Errorf("page origin %q, want %q", results.PageOrigin, page.origin)
	}
	t.Logf("browser: %s", results.UserAgent)

	// The harness itself: the browser made cross-origin gRPC-Web calls in
	// both formats, after CORS preflights that Portico answered.
	rec.check(t, page.origin)

	for _, mode := range []string{"text", "binary"} {
		t.Run(mode, func(t *testing.T) {
			call := func(name string) *browserCall {
				t.Helper()
				c := results.Calls[name+"_"+mode]
				if c == nil {
					t.Fatalf("page reported no %s call", name)
				}
				return c
			}

			t.Run("unary", func(t *testing.T) {
				c := call("getResource")
				c.requireOK(t)
				var reply struct{ Name string }
				c.reply(t, &reply)
				if want := "projects/browser/resources/" + mode + "-\u00e9\U0001F600"; reply.Name != want {
					t.Errorf("GetResource name %q, want %q", reply.Name, want)
				}
				c.requireStatusOK(t)
			})

			t.Run("server stream", func(t *testing.T) {
				c := call("serverStream")
				c.requireOK(t)
				if !c.Ended {
					t.Errorf("stream did not end")
				}
				if len(c.Items) != 3 {
					t.Fatalf("got %d stream replies, want 3: %s", len(c.Items), c.Items)
				}
				for i, raw := range c.Items {
					var item struct {
						Index int
						Text  string
					}
					if err := json.Unmarshal(raw, &item); err != nil {
						t.Fatal(err)
					}
					if item.Index != i || item.Text != "streamed-"+mode {
						t.Errorf("reply %d = %+v, want index %d, text %q", i, item, i, "streamed-"+mode)
					}
				}
				c.requireStatusOK(t)
			})

			t.Run("error", func(t *testing.T) {
				c := call("fail")
				if c.OK || c.Error == nil {
					t.Fatalf("Fail succeeded: %+v", c)
				}
				if want := fmt.Sprintf("no such thing (%s)", mode); c.Error.Code != 5 || c.Error.Message != want {
					t.Errorf("Fail error = code %d, message %q; want code 5 (NOT_FOUND), message %q",
						c.Error.Code, c.Error.Message, want)
				}
			})

			t.Run("metadata", func(t *testing.T) {
				c := call("metadata")
				c.requireOK(t)
				// The custom request header reached the backend as metadata.
				var reply struct{ Incoming map[string]string }
				c.reply(t, &reply)
				if got, want := reply.Incoming["x-portico-browser"], "meta-"+mode; got != want {
					t.Errorf("backend saw x-portico-browser %q, want %q (all: %v)", got, want, reply.Incoming)
				}
				// Response header and trailer metadata were readable by the
				// page: headers need Access-Control-Expose-Headers, trailers
				// travel in the body.
				if got := c.Headers["x-echo-header"]; got != "h" {
					t.Errorf("response header x-echo-header %q, want \"h\" (headers the page could read: %v)", got, c.Headers)
				}
				c.requireStatusOK(t)
				if got := c.Status.Metadata["x-echo-trailer"]; got != "t" {
					t.Errorf("trailer x-echo-trailer %q, want \"t\" (trailers: %v)", got, c.Status.Metadata)
				}
			})
		})
	}
}

// browserResults is what the page POSTs to /results.
type browserResults struct {
	UserAgent  string                  `json:"userAgent"`
	PageOrigin string                  `json:"pageOrigin"`
	Gateway    string                  `json:"gateway"`
	Calls      map[string]*browserCall `json:"calls"`
	Fatal      string                  `json:"fatal"`
}

// browserCall is one call as the page saw it.
type browserCall struct {
	OK      bool              `json:"ok"`
	Reply   json.RawMessage   `json:"reply"`
	Items   []json.RawMessage `json:"items"`
	Ended   bool              `json:"ended"`
	Headers map[string]string `json:"headers"`
	Error   *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Status *struct {
		Code     int               `json:"code"`
		Details  string            `json:"details"`
		Metadata map[string]string `json:"metadata"`
	} `json:"status"`
}

func (c *browserCall) requireOK(t *testing.T) {
	t.Helper()
	if !c.OK || c.Error != nil {
		if c.Error != nil {
			t.Fatalf("call failed in the browser: code %d, message %q", c.Error.Code, c.Error.Message)
		}
		t.Fatalf("call did not succeed in the browser")
	}
}

func (c *browserCall) requireStatusOK(t *testing.T) {
	t.Helper()
	if c.Status == nil {
		t.Fatalf("the page saw no grpc-web status event")
	}
	if c.Status.Code != 0 {
		t.Fatalf("status code %d (%q), want 0", c.Status.Code, c.Status.Details)
	}
}

func (c *browserCall) reply(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(c.Reply, v); err != nil {
		t.Fatalf("reply %s: %v", c.Reply, err)
	}
}

// ensureBrowserBundle returns the path of browser/dist/bundle.js, building
// it first when it is missing or older than its sources.
func ensureBrowserBundle(t *testing.T, dir string) string {
	t.Helper()
	bundle := filepath.Join(dir, "dist", "bundle.js")
	if !bundleStale(t, bundle, dir) {
		return bundle
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Fatalf("%s is missing or stale and npm is not installed to build it: run `make browser` "+
			"(needs node and npm), or set PORTICO_SKIP_BROWSER=1 to skip this test", bundle)
	}
	run := func(args ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, npm, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building the browser bundle: npm %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
		}
	}
	if newer(t, filepath.Join(dir, "package-lock.json"), filepath.Join(dir, "node_modules", ".package-lock.json")) {
		t.Logf("browser/node_modules missing or stale: npm ci")
		run("ci", "--no-audit", "--no-fund", "--ignore-scripts")
	}
	t.Logf("building %s (npm run build)", bundle)
	run("run", "--silent", "build")
	return bundle
}

// bundleStale reports whether bundle is missing or older than any source
// it is built from.
func bundleStale(t *testing.T, bundle, dir string) bool {
	t.Helper()
	srcs := []string{"package.json", "package-lock.json", filepath.Join("node_modules", ".package-lock.json")}
	if entries, err := os.ReadDir(filepath.Join(dir, "src")); err == nil {
		for _, e := range entries {
			srcs = append(srcs, filepath.Join("src", e.Name()))
		}
	}
	for _, s := range srcs {
		if newer(t, filepath.Join(dir, s), bundle) {
			return true
		}
	}
	return false
}

// newer reports whether target is missing or older than src (as make
// decides); a missing src counts as old.
func newer(t *testing.T, src, target string) bool {
	t.Helper()
	ti, err := os.Stat(target)
	if err != nil {
		return true
	}
	si, err := os.Stat(src)
	return err == nil && si.ModTime().After(ti.ModTime())
}

// pageServer serves the test page on its own loopback origin and receives
// the page's results.
type pageServer struct {
	origin  string
	results <-chan []byte
}

func startPageServer(t *testing.T, indexHTML, bundleJS string) *pageServer {
	t.Helper()
	results := make(chan []byte, 1)
	mux := http.NewServeMux()
	serve := func(path, contentType string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			// Not http.ServeFile, which redirects …/index.html to …/.
			b, err := os.ReadFile(path)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", contentType)
			w.Header().Set("Cache-Control", "no-store")
			_, _ = w.Write(b)
		}
	}
	mux.HandleFunc("GET /index.html", serve(indexHTML, "text/html; charset=utf-8"))
	mux.HandleFunc("GET /bundle.js", serve(bundleJS, "text/javascript; charset=utf-8"))
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /results", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		select {
		case results <- body:
		default: // only the first report counts
		}
		w.WriteHeader(http.StatusNoContent)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = srv.Close()
	})
	return &pageServer{origin: "http://" + ln.Addr().String(), results: results}
}

// runChromium opens pageURL in headless Chromium and waits up to timeout
// for the page's results. Chromium runs in a process group of its own,
// killed as a whole and reaped before runChromium returns, so none of its
// helper processes outlive the test. diag adds context to failures. It
// returns the results and Chromium's log (console messages included).
func runChromium(t *testing.T, chromium, pageURL string, results <-chan []byte, timeout time.Duration, diag func() string) (*browserResults, string) {
	t.Helper()
	// Chromium's helpers (zygotes, renderers, GPU and utility processes)
	// are its children or grandchildren. Once it is killed they are
	// orphans; as a child subreaper this test process inherits and reaps
	// them rather than leaving zombies to an init that may not reap.
	subreaper := setChildSubreaper() == nil

	ctx, cancel := context.WithTimeout(context.Background(), timeout+10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium,
		"--headless",
		"--no-sandbox", // as root, and in containers without user namespaces
		"--disable-gpu",
		"--disable-quic",
		"--no-first-run",
		"--no-default-browser-check",
		"--disable-background-networking",
		"--disable-component-update",
		"--disable-sync",
		"--disable-extensions",
		"--disable-crash-reporter",
		"--disable-breakpad",
		"--disable-dev-shm-usage",
		"--enable-logging=stderr", // console messages to stderr
		"--user-data-dir="+t.TempDir(),
		pageURL,
	)
	// Chromium writes crash reports and caches under $HOME/.config and
	// $HOME/.cache whatever --user-data-dir says; keep those in the test's
	// temporary directory too.
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+t.TempDir(), "XDG_CACHE_HOME="+t.TempDir())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid) }
	cmd.WaitDelay = 5 * time.Second
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", chromium, err)
	}
	pgid := cmd.Process.Pid
	var waitErr error // set before exited is closed
	exited := make(chan struct{})
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = killGroup(pgid)
		<-exited
		if live := reapGroup(pgid, subreaper, 5*time.Second); len(live) > 0 {
			t.Errorf("chromium processes %v of group %d survived SIGKILL", live, pgid)
		}
	}
	defer stop()

	var body []byte
	select {
	case body = <-results:
		t.Logf("page reported after %v", time.Since(start).Round(time.Millisecond))
	case <-exited:
		t.Fatalf("chromium exited before the page reported (%v)\n%s\nchromium log:\n%s", waitErr, diag(), chromiumLog(out.String()))
	case <-time.After(timeout):
		t.Fatalf("no results from the page within %v\n%s\nchromium log:\n%s", timeout, diag(), chromiumLog(out.String()))
	}
	stop()
	var res browserResults
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatalf("page results %s: %v", body, err)
	}
	return &res, chromiumLog(out.String())
}

// chromiumLog drops the D-Bus complaints Chromium logs by the dozen when it
// runs without a session bus, which is always the case here.
func chromiumLog(s string) string {
	var keep []string
	for line := range strings.Lines(s) {
		if strings.Contains(line, "dbus") || strings.Contains(line, "D-Bus") {
			continue
		}
		keep = append(keep, "    "+strings.TrimRight(line, "\n"))
	}
	return strings.Join(keep, "\n")
}

// killGroup SIGKILLs process group pgid.
func killGroup(pgid int) error {
	err := syscall.Kill(-pgid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

// setChildSubreaper makes this process the reaper of its orphaned
// descendants (prctl PR_SET_CHILD_SUBREAPER).
func setChildSubreaper() error {
	const prSetChildSubreaper = 36
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		return errno
	}
	return nil
}

// reapGroup waits up to timeout for every process of Chromium's group pgid
// to be gone, killing stragglers and reaping those that became this
// process's children. Chromium's crash handlers (chrome_crashpad_handler)
// put themselves in groups of their own; as a subreaper this process
// inherits them, and they exit when Chromium is gone, so they are waited for
// (and killed, by pid, at the deadline) as well. It returns the processes
// still alive at the end. Zombies that another process has yet to reap are
// not counted (without subreaper they are the init process's to reap).
func reapGroup(pgid int, subreaper bool, timeout time.Duration) []int {
	deadline := time.Now().Add(timeout)
	for {
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-pgid, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
		live, zombies := procsWhere(func(p procInfo) bool { return p.pgrp == pgid })
		var crashLive []int
		if subreaper {
			var crashZombies []int
			crashLive, crashZombies = procsWhere(func(p procInfo) bool {
				return p.ppid == os.Getpid() && strings.HasPrefix(p.comm, "chrome_crashpad")
			})
			for _, pid := range crashZombies {
				var ws syscall.WaitStatus
				_, _ = syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
			}
		}
		if len(live) == 0 && len(crashLive) == 0 && (len(zombies) == 0 || !subreaper) {
			return nil
		}
		if time.Now().After(deadline) {
			for _, pid := range crashLive {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				var ws syscall.WaitStatus
				_, _ = syscall.Wait4(pid, &ws, 0, nil)
			}
			return live
		}
		_ = killGroup(pgid)
		time.Sleep(20 * time.Millisecond)
	}
}

// procInfo is what reapGroup needs from /proc/<pid>/stat.
type procInfo struct {
	pid, ppid, pgrp int
	comm, state     string
}

// procsWhere lists the processes matching keep, from /proc, split into
// live ones and zombies.
func procsWhere(keep func(procInfo) bool) (live, zombies []int) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces and parens.
		open, closing := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
		if open < 0 || closing < open {
			continue
		}
		fields := strings.Fields(string(stat[closing+1:]))
		if len(fields) < 3 {
			continue
		}
		p := procInfo{pid: pid, comm: string(stat[open+1 : closing]), state: fields[0]}
		p.ppid, _ = strconv.Atoi(fields[1])
		p.pgrp, _ = strconv.Atoi(fields[2])
		if !keep(p) {
			continue
		}
		if p.state == "Z" || p.state == "X" {
			zombies = append(zombies, pid)
		} else {
			live = append(live, pid)
		}
	}
	return live, zombies
}

// lockedBuffer is an io.Writer safe for Chromium's stdout and stderr
// copiers and readers in the test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// requestRecorder notes every request the browser sends the gateway.
type requestRecorder struct {
	next http.Handler
	mu   sync.Mutex
	reqs []recordedRequest
}

type recordedRequest struct {
	method, path, origin, contentType, preflightMethod, preflightHeaders string
	status                                                               int
}

func (r *requestRecorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	r.next.ServeHTTP(sw, req)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, recordedRequest{
		method:           req.Method,
		path:             req.URL.Path,
		origin:           req.Header.Get("Origin"),
		contentType:      req.Header.Get("Content-Type"),
		preflightMethod:  req.Header.Get("Access-Control-Request-Method"),
		preflightHeaders: req.Header.Get("Access-Control-Request-Headers"),
		status:           sw.code(),
	})
}

func (r *requestRecorder) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, q := range r.reqs {
		out = append(out, fmt.Sprintf("  %s %s origin=%q content-type=%q acr-method=%q acr-headers=%q -> %d",
			q.method, q.path, q.origin, q.contentType, q.preflightMethod, q.preflightHeaders, q.status))
	}
	return out
}

// check asserts the browser behaved as a cross-origin gRPC-Web client: it
// sent preflights that Portico answered 204, including one that asked for
// the custom metadata header, and POSTs in both gRPC-Web content types, all
// from the page's origin.
func (r *requestRecorder) check(t *testing.T, origin string) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var preflights, text, binary int
	customHeaderAsked := false
	for _, q := range r.reqs {
		if q.origin != origin {
			t.Errorf("%s %s sent Origin %q, want %q", q.method, q.path, q.origin, origin)
		}
		switch {
		case q.method == http.MethodOptions:
			preflights++
			if q.status != http.StatusNoContent {
				t.Errorf("preflight for %s answered %d, want 204", q.path, q.status)
			}
			if strings.Contains(strings.ToLower(q.preflightHeaders), "x-portico-browser") {
				customHeaderAsked = true
			}
		case q.method == http.MethodPost && strings.HasPrefix(q.contentType, "application/grpc-web-text"):
			text++
		case q.method == http.MethodPost && strings.HasPrefix(q.contentType, "application/grpc-web"):
			binary++
		default:
			t.Errorf("unexpected request %s %s (content type %q)", q.method, q.path, q.contentType)
		}
	}
	if preflights == 0 {
		t.Errorf("the browser sent no CORS preflight: the calls were not cross-origin")
	}
	if !customHeaderAsked {
		t.Errorf("no preflight asked for the x-portico-browser header")
	}
	if text != 4 || binary != 4 {
		t.Errorf("gateway got %d grpc-web-text and %d grpc-web (binary) calls, want 4 of each", text, binary)
	}
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// Flush implements http.Flusher for handlers that assert it directly.
func (w *statusWriter) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }

// Unwrap lets http.ResponseController reach the underlying writer (Flush,
// deadlines, full duplex), which streaming protocols need.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
