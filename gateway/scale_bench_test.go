package gateway_test

// Large-schema benchmarks (issue "A large schema must load fast and small"):
// the Google APIs that carry HTTP annotations, compiled from the npm package
// google-proto-files and served by a test backend through gRPC reflection.
//
// Run them with `make bench-scale`, which first installs google-proto-files
// into the repository's node_modules/ (npm ci). Without it they skip: tests
// never depend on node_modules/.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/reporter"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/portico-gw/portico/internal/testbackend"
	"github.com/portico-gw/portico/schema"
	"github.com/portico-gw/portico/transcoder"
	"github.com/portico-gw/portico/upstream"
)

// googleProtoFiles is where `npm ci` at the repository root installs
// google-proto-files (the benchmarks run in gateway/).
var googleProtoFiles = filepath.Join("..", "node_modules", "google-proto-files")

// gatewayReflectionTimeout is the deadline the gateway gives one reflection
// load (backendRuntime.loadSchema); the benchmark notes a load slower than it.
const gatewayReflectionTimeout = 10 * time.Second

// largeSchema is the compiled Google APIs set, built once per test binary
// run so that the benchmarks measure the gateway, not protocompile.
type largeSchema struct {
	candidates  int               // .proto files importing google/api/annotations.proto and defining a service
	failed      map[string]string // candidate path -> why it did not compile
	linked      map[string]bool   // imports resolved from the linked descriptors
	files       []protoreflect.FileDescriptor
	compileTime time.Duration

	// services are the services served: every service of files but the
	// excluded ones, sorted. local is a schema over them built straight
	// from the compiled files (no reflection), and routes counts each
	// service's routes in a snapshot of local.
	services []protoreflect.FullName
	excluded map[protoreflect.FullName]string // service -> why
	rounds   int                              // NewSnapshot rounds the exclusion took
	local    *schema.Schema
	routes   map[protoreflect.FullName]int
}

var (
	largeOnce   sync.Once
	large       *largeSchema
	errLarge    error
	detailsOnce sync.Once
)

// loadLargeSchema returns the compiled Google APIs, compiling them on first
// use, or skips b when google-proto-files is not installed. It logs what was
// compiled, skipped and excluded: counts always (a benchmark's log is cut
// at ten lines), every file and service by name with -test.v.
func loadLargeSchema(b *testing.B) *largeSchema {
	b.Helper()
	if _, err := os.Stat(filepath.Join(googleProtoFiles, "google", "api", "annotations.proto")); err != nil {
		b.Skipf("google-proto-files is not installed (%v): run `npm ci --no-audit --no-fund --ignore-scripts` at the repository root, or `make bench-scale`", err)
	}
	largeOnce.Do(func() { large, errLarge = compileLargeSchema(googleProtoFiles) })
	if errLarge != nil {
		b.Fatal(errLarge)
	}
	if b.N == 1 {
		b.Log(large.summary())
	}
	if testing.Verbose() {
		detailsOnce.Do(func() { fmt.Println(large.details()) })
	}
	return large
}

func (ls *largeSchema) summary() string {
	kinds := map[string]int{}
	for _, why := range ls.excluded {
		kind, _, _ := strings.Cut(why, ":")
		kinds[kind]++
	}
	return fmt.Sprintf("google-proto-files: %d candidate files (import google/api/annotations.proto, define a service): "+
		"%d compiled in %v (%d imports linked in), %d skipped (did not compile); %d services served, %d excluded "+
		"(%d for a route conflict between two services, %d for one within the service, %d invalid; %d NewSnapshot rounds); "+
		"-test.v lists them",
		ls.candidates, len(ls.files), ls.compileTime.Round(time.Millisecond), len(ls.linked), len(ls.failed),
		len(ls.services), len(ls.excluded), kinds["conflict"], kinds["self-conflict"], kinds["invalid"], ls.rounds)
}

func (ls *largeSchema) details() string {
	var sb strings.Builder
	sb.WriteString(ls.summary())
	var linked []string
	for f := range ls.linked {
		linked = append(linked, f)
	}
	sort.Strings(linked)
	fmt.Fprintf(&sb, "\n  linked imports: %s", strings.Join(linked, " "))
	var failed []string
	for f := range ls.failed {
		failed = append(failed, f)
	}
	sort.Strings(failed)
	for _, f := range failed {
		fmt.Fprintf(&sb, "\n  skipped file %s: %s", f, ls.failed[f])
	}
	var excluded []string
	for s := range ls.excluded {
		excluded = append(excluded, string(s))
	}
	sort.Strings(excluded)
	for _, s := range excluded {
		fmt.Fprintf(&sb, "\n  excluded service %s: %s", s, ls.excluded[protoreflect.FullName(s)])
	}
	return sb.String()
}

// linkedImports are the import prefixes resolved from the descriptors linked
// into the test binary (when it has them) rather than from the package.
var linkedImports = []string{"google/api/", "google/rpc/", "google/type/", "google/longrunning/", "google/protobuf/"}

var (
	annotationsImport = regexp.MustCompile(`(?m)^\s*import\s+"google/api/annotations\.proto"\s*;`)
	serviceDecl       = regexp.MustCompile(`(?m)^\s*service\s+\w+\s*\{`)
)

// compileLargeSchema compiles every .proto file under root/google that
// imports google/api/annotations.proto and defines a service. Imports come
// from root (google-proto-files itself), except the linkedImports the test
// binary links in. Files that fail to compile (or whose imports do) are
// skipped and listed.
func compileLargeSchema(root string) (*largeSchema, error) {
	ls := &largeSchema{failed: map[string]string{}, linked: map[string]bool{}}
	var candidates []string
	err := filepath.WalkDir(filepath.Join(root, "google"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".proto") {
			return err
		}
		content, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !annotationsImport.Match(content) || !serviceDecl.Match(content) {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		candidates = append(candidates, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(candidates)
	ls.candidates = len(candidates)

	errsByFile := map[string]string{}
	var errMu sync.Mutex
	compiler := protocompile.Compiler{
		Resolver: protocompile.CompositeResolver{
			protocompile.ResolverFunc(func(path string) (protocompile.SearchResult, error) {
				for _, prefix := range linkedImports {
					if strings.HasPrefix(path, prefix) {
						fd, err := protoregistry.GlobalFiles.FindFileByPath(path)
						if err != nil {
							return protocompile.SearchResult{}, err // not linked in: from the package
						}
						errMu.Lock()
						ls.linked[path] = true
						errMu.Unlock()
						return protocompile.SearchResult{Desc: fd}, nil
					}
				}
				return protocompile.SearchResult{}, protoregistry.NotFound
			}),
			&protocompile.SourceResolver{ImportPaths: []string{root}},
		},
		Reporter: reporter.NewReporter(func(err reporter.ErrorWithPos) error {
			errMu.Lock()
			defer errMu.Unlock()
			if f := err.GetPosition().Filename; errsByFile[f] == "" {
				errsByFile[f] = err.Error()
			}
			return nil // keep going: one broken file must not sink the rest
		}, nil),
	}
	start := time.Now()
	compiled, err := compiler.Compile(context.Background(), candidates...)
	ls.compileTime = time.Since(start)
	if err != nil && !errors.Is(err, reporter.ErrInvalidSource) {
		return nil, fmt.Errorf("compiling google-proto-files: %w", err)
	}
	for i, fd := range compiled {
		if fd == nil {
			why := errsByFile[candidates[i]]
			if why == "" {
				why = "an import did not compile"
			}
			ls.failed[candidates[i]] = why
			continue
		}
		ls.files = append(ls.files, fd)
	}
	if len(ls.files) == 0 {
		return nil, fmt.Errorf("no file of google-proto-files under %s compiled (%d failed)", root, len(ls.failed))
	}

	registry := new(protoregistry.Files)
	var all []protoreflect.FullName
	for _, fd := range ls.files {
		if err := registerFile(registry, fd); err != nil {
			return nil, err
		}
		for i := range fd.Services().Len() {
			all = append(all, fd.Services().Get(i).FullName())
		}
	}
	if err := ls.selectServices(registry, all); err != nil {
		return nil, err
	}
	return ls, nil
}

func registerFile(files *protoregistry.Files, fd protoreflect.FileDescriptor) error {
	if _, err := files.FindFileByPath(fd.Path()); err == nil {
		return nil
	}
	for i := range fd.Imports().Len() {
		if err := registerFile(files, fd.Imports().Get(i).FileDescriptor); err != nil {
			return err
		}
	}
	return files.RegisterFile(fd)
}

var (
	// "router: conflicting routes for GET "/v1/x": a.S.M (GET /v1/x) and b.T.N (GET "/v1/x") both claim it"
	conflictError = regexp.MustCompile(`^router: conflicting routes for \S+ ".*?": ([\w.]+) \(.*\) and ([\w.]+) \(`)
	// "method a.S.M (file.proto): template ...: ..." and "method a.S.M: ..."
	methodError = regexp.MustCompile(`^method ([\w.]+)[ :]`)
)

// selectServices picks the services to serve. Google APIs are served by
// many hosts, so their HTTP rules are not meant to share one route table:
// two services may claim the same HTTP method and template ("GET
// /v1/{name=projects/*/locations/*/instances/*}" is Redis's, Memcache's,
// Filestore's, ...), and NewSnapshot rejects the whole set. Serving the APIs
// from several backends would not help: a snapshot has one route table for
// all its backends. So the set, on one backend, is cut down a service at a
// time:
//
//   - a service with a method NewSnapshot rejects on its own (a template that
//     does not parse, a variable binding a field that does not exist or is
//     repeated, a body or response_body naming no field) is excluded first;
//   - of two services claiming one route, the one added later (services go
//     in sorted by full name) is excluded, the first keeps it. A newcomer
//     whose rival is itself a newcomer this round waits for the next round,
//     so that no service is dropped for a route whose first owner went;
//   - a service two of whose own methods claim one route (templates that
//     differ only in variable names, as BigQueryRead's ReadRows and
//     SplitReadStream do) is excluded whole: NewSnapshot has no way to
//     serve one method of a service but not another.
//
// The rounds repeat until NewSnapshot accepts the set. Every excluded
// service is logged with the error that excluded it.
func (ls *largeSchema) selectServices(registry *protoregistry.Files, all []protoreflect.FullName) error {
	ls.excluded = map[protoreflect.FullName]string{}
	for {
		ls.rounds++
		var names []protoreflect.FullName
		for _, n := range all {
			if _, out := ls.excluded[n]; !out {
				names = append(names, n)
			}
		}
		s, err := schema.New("google-proto-files", registry, names)
		if err != nil {
			return err
		}
		snap, err := newSnapshot(s, noConn{})
		if err == nil {
			ls.services, ls.local = names, s
			sort.Slice(ls.services, func(i, j int) bool { return ls.services[i] < ls.services[j] })
			ls.routes = map[protoreflect.FullName]int{}
			for _, r := range snap.Routes() {
				ls.routes[serviceOf(r.RPC)]++
			}
			return nil
		}
		var joined interface{ Unwrap() []error }
		if !errors.As(err, &joined) {
			return err
		}
		invalid := map[protoreflect.FullName]string{}
		type conflict struct {
			svc, rival protoreflect.FullName
			msg        string
		}
		var conflicts []conflict
		newcomers := map[protoreflect.FullName]bool{}
		for _, e := range joined.Unwrap() {
			msg := e.Error()
			if m := conflictError.FindStringSubmatch(msg); m != nil {
				c := conflict{serviceOf(m[1]), serviceOf(m[2]), msg}
				conflicts = append(conflicts, c)
				newcomers[c.svc] = true
				continue
			}
			if m := methodError.FindStringSubmatch(msg); m != nil {
				if svc := serviceOf(m[1]); invalid[svc] == "" {
					invalid[svc] = msg
				}
				continue
			}
			return fmt.Errorf("unexpected snapshot error: %s", msg)
		}
		if len(invalid) > 0 {
			for svc, msg := range invalid {
				ls.excluded[svc] = "invalid: " + msg
			}
			continue
		}
		progress := false
		for _, c := range conflicts {
			if c.svc != c.rival && newcomers[c.rival] {
				continue
			}
			if _, done := ls.excluded[c.svc]; !done {
				kind := "conflict"
				if c.svc == c.rival {
					kind = "self-conflict"
				}
				ls.excluded[c.svc] = kind + ": " + c.msg
				progress = true
			}
		}
		if !progress {
			return fmt.Errorf("cannot cut google-proto-files down to a valid snapshot: %w", err)
		}
	}
}

func serviceOf[S ~string](method S) protoreflect.FullName {
	m := string(method)
	if i := strings.LastIndexByte(m, '.'); i >= 0 {
		m = m[:i]
	}
	return protoreflect.FullName(m)
}

func newSnapshot(s *schema.Schema, conn grpc.ClientConnInterface) (*transcoder.Snapshot, error) {
	return transcoder.NewSnapshot(
		[]transcoder.Backend{{Name: "googleapis", Schema: s, Conn: conn}},
		transcoder.Options{Logger: slog.New(slog.DiscardHandler)},
	)
}

// noConn stands in for a backend connection where no call is ever made.
type noConn struct{}

func (noConn) Invoke(context.Context, string, any, any, ...grpc.CallOption) error {
	return status.Error(codes.Unavailable, "no backend")
}

func (noConn) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, status.Error(codes.Unavailable, "no backend")
}

// BenchmarkLargeSchemaLoad measures what the gateway does when a backend
// serving the Google APIs comes up: the schema fetched through gRPC
// reflection over loopback (schema.FromReflection, as the gateway's loader
// does) and the snapshot built and validated from it
// (transcoder.NewSnapshot). Besides ns/op it reports the size of the schema
// (files, services, methods, routes), the time of each step and the heap one
// loaded snapshot keeps alive.
func BenchmarkLargeSchemaLoad(b *testing.B) {
	ls := loadLargeSchema(b)
	served := map[protoreflect.FullName]bool{}
	for _, s := range ls.services {
		served[s] = true
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	backend := testbackend.StartCompiled(b, ln, ls.files, func(sd protoreflect.ServiceDescriptor) bool { return served[sd.FullName()] })
	up, err := upstream.Dial("googleapis", backend.Addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = up.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// Connect first: the benchmark is of the load, not of the dial.
	up.Conn.Connect()
	for st := up.Conn.GetState(); st != connectivity.Ready; st = up.Conn.GetState() {
		if !up.Conn.WaitForStateChange(ctx, st) {
			b.Fatal("backend connection never became ready")
		}
	}

	var (
		reflection, build time.Duration
		retained          int64
		s                 *schema.Schema
		snap              *transcoder.Snapshot
		mem               runtime.MemStats
	)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		snap = nil // let the previous iteration's snapshot go before measuring
		settleHeap()
		runtime.ReadMemStats(&mem)
		before := mem.HeapAlloc
		b.StartTimer()

		t0 := time.Now()
		s, err = schema.FromReflection(ctx, up.Conn, up.Target)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		snap, err = newSnapshot(s, up.Conn)
		if err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()

		b.StopTimer()
		reflection += t1.Sub(t0)
		build += t2.Sub(t1)
		if d := t1.Sub(t0); d > gatewayReflectionTimeout {
			b.Logf("reflection load took %v, longer than the gateway's %v reflection deadline", d.Round(time.Millisecond), gatewayReflectionTimeout)
		}
		settleHeap()
		runtime.ReadMemStats(&mem)
		retained += int64(mem.HeapAlloc) - int64(before)
		runtime.KeepAlive(s)
		runtime.KeepAlive(snap)
		b.StartTimer()
	}
	b.StopTimer()

	// How much of that the schema alone keeps (its descriptors and type
	// resolver), from one more load outside the timed loop; the rest is the
	// snapshot's own (methods, routes, the trie).
	var s2 *schema.Schema
	settleHeap()
	runtime.ReadMemStats(&mem)
	before := mem.HeapAlloc
	if s2, err = schema.FromReflection(ctx, up.Conn, up.Target); err != nil {
		b.Fatal(err)
	}
	settleHeap()
	runtime.ReadMemStats(&mem)
	schemaRetained := int64(mem.HeapAlloc) - int64(before)
	runtime.KeepAlive(s2)

	if got := len(s.Services()); got != len(ls.services) {
		b.Fatalf("reflection listed %d services; the backend serves %d", got, len(ls.services))
	}
	methods := 0
	apiFiles := map[string]bool{}
	for _, sd := range s.Services() {
		methods += sd.Methods().Len()
		apiFiles[sd.ParentFile().Path()] = true
	}
	n := float64(b.N)
	b.ReportMetric(float64(len(snap.Routes())), "routes")
	b.ReportMetric(float64(methods), "methods")
	b.ReportMetric(float64(len(s.Services())), "services")
	b.ReportMetric(float64(len(apiFiles)), "api-files")
	b.ReportMetric(float64(s.Files().NumFiles()), "files")
	b.ReportMetric(float64(retained)/n/(1<<20), "MiB-retained")
	b.ReportMetric(float64(schemaRetained)/(1<<20), "MiB-schema")
	b.ReportMetric(float64(reflection.Milliseconds())/n, "ms-reflection")
	b.ReportMetric(float64(build.Milliseconds())/n, "ms-snapshot")
}

// settleHeap collects garbage twice, the second time for what sync.Pool
// caches (gRPC's buffers among them) held on to through the first, so that
// HeapAlloc is close to what is live.
func settleHeap() {
	runtime.GC()
	runtime.GC()
}

// benchMethod is an HTTP method no Google API route uses, so a request with
// it on a routed path is answered 405 by routing alone, without a backend.
const benchMethod = "BENCH"

// BenchmarkLargeSchemaRouterLookup measures routing over the real Google
// APIs route table: Handler.ServeHTTP of requests whose paths instantiate
// real templates but whose HTTP method no route has (405, no backend call),
// for snapshots of about 10 and 1000 routes (subsets of the services) and of
// every route; and of paths no template matches (404). One op serves 1000
// sampled requests; ns/req, B/req and allocs/req are per request.
func BenchmarkLargeSchemaRouterLookup(b *testing.B) {
	ls := loadLargeSchema(b)
	order := append([]protoreflect.FullName(nil), ls.services...)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })

	for _, size := range []struct {
		name   string
		routes int // 0: every route
	}{{"routes=10", 10}, {"routes=1000", 1000}, {"routes=all", 0}} {
		var names []protoreflect.FullName
		total := 0
		for _, svc := range order {
			if size.routes == 0 || total+ls.routes[svc] <= size.routes {
				names = append(names, svc)
				total += ls.routes[svc]
			}
		}
		sub, err := schema.New("google-proto-files subset", ls.local.Files(), names)
		if err != nil {
			b.Fatal(err)
		}
		snap, err := newSnapshot(sub, noConn{})
		if err != nil {
			b.Fatal(err)
		}
		reqs := sampleRequests(b, snap, 1000)
		h := transcoder.NewHandler(snap)
		for _, r := range reqs {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != http.StatusMethodNotAllowed {
				b.Fatalf("%s %s: %d, want 405: %s", r.Method, r.URL.Path, rec.Code, rec.Body)
			}
		}
		b.Run(size.name+"/405", func(b *testing.B) { benchServe(b, h, reqs, len(snap.Routes())) })
		if size.routes != 0 {
			continue
		}
		var misses []*http.Request
		for i := range 1000 {
			misses = append(misses, httptest.NewRequest(http.MethodGet, fmt.Sprintf("/zz-not-routed/v%d/items/i%d", i%7, i), nil))
		}
		for _, r := range misses[:1] {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != http.StatusNotFound {
				b.Fatalf("%s %s: %d, want 404", r.Method, r.URL.Path, rec.Code)
			}
		}
		b.Run(size.name+"/404", func(b *testing.B) { benchServe(b, h, misses, len(snap.Routes())) })
	}
}

// benchServe serves every one of reqs per op, so that even a handful of ops
// (make bench-scale runs -benchtime=3x) time thousands of requests, and
// reports the cost of one request: ns/req, B/req, allocs/req.
func benchServe(b *testing.B, h http.Handler, reqs []*http.Request, routes int) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	ops := 0
	for b.Loop() {
		for _, r := range reqs {
			h.ServeHTTP(httptest.NewRecorder(), r)
		}
		ops++
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	n := float64(ops * len(reqs))
	b.ReportMetric(float64(elapsed.Nanoseconds())/n, "ns/req")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/n, "B/req")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/n, "allocs/req")
	b.ReportMetric(float64(routes), "routes")
}

// sampleRequests makes n requests (with benchMethod) on paths instantiated
// from snap's annotated routes, chosen at random with a fixed seed.
func sampleRequests(b *testing.B, snap *transcoder.Snapshot, n int) []*http.Request {
	b.Helper()
	var templates []string
	for _, r := range snap.Routes() {
		if r.HTTPMethod == benchMethod {
			b.Fatalf("route %s %s uses the benchmark's HTTP method", r.HTTPMethod, r.Template)
		}
		if r.Template == "/"+string(serviceOf(r.RPC))+"/"+r.RPC[strings.LastIndexByte(r.RPC, '.')+1:] {
			continue // the POST /pkg.Service/Method route every method has
		}
		templates = append(templates, r.Template)
	}
	if len(templates) == 0 {
		b.Fatal("no annotated routes in the snapshot")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	reqs := make([]*http.Request, n)
	for i := range reqs {
		reqs[i] = httptest.NewRequest(benchMethod, instantiate(templates[rng.IntN(len(templates))], i), nil)
	}
	return reqs
}

// instantiate turns a path template (in transcoder's canonical form) into a
// concrete path: "*" and "{var}" become one segment, "**" two.
func instantiate(tmpl string, seed int) string {
	verb := ""
	if i := strings.LastIndexByte(tmpl, ':'); i > strings.LastIndexAny(tmpl, "/}") {
		tmpl, verb = tmpl[:i], tmpl[i:]
	}
	k := 0
	fill := func(pattern string) string {
		segs := strings.Split(pattern, "/")
		for i, seg := range segs {
			switch seg {
			case "*":
				k++
				segs[i] = fmt.Sprintf("v%d-%d", seed, k)
			case "**":
				k += 2
				segs[i] = fmt.Sprintf("v%d-%d/v%d-%d", seed, k-1, seed, k)
			}
		}
		return strings.Join(segs, "/")
	}
	var sb strings.Builder
	for tmpl != "" {
		open := strings.IndexByte(tmpl, '{')
		if open < 0 {
			sb.WriteString(fill(tmpl))
			break
		}
		sb.WriteString(fill(tmpl[:open]))
		end := open + strings.IndexByte(tmpl[open:], '}')
		pattern := "*"
		if eq := strings.IndexByte(tmpl[open:end], '='); eq >= 0 {
			pattern = tmpl[open+eq+1 : end]
		}
		sb.WriteString(fill(pattern))
		tmpl = tmpl[end+1:]
	}
	return sb.String() + verb
}
