package transcoder

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/portico-gw/portico/schema"
)

// Backend is one gRPC backend as the transcoder sees it: a schema saying
// what it serves and a connection to call it on.
type Backend struct {
	// Name identifies the backend in errors and route listings.
	Name string
	// Schema lists the services the backend serves and describes their
	// messages.
	Schema *schema.Schema
	// Conn carries the calls. It must accept grpc.ForceCodecV2 call options
	// (a *grpc.ClientConn does).
	Conn grpc.ClientConnInterface
	// Options override the snapshot's options for this backend's methods.
	// Nil means the snapshot's. CORS and Logger are snapshot-wide and are
	// not read from here.
	Options *Options
	// ServiceOptions override Options for single services, by full name.
	ServiceOptions map[protoreflect.FullName]*Options
}

// Snapshot is an immutable, validated view of everything Portico serves:
// the method table, the route trie, and per backend its connection and type
// resolver. A Snapshot is built once ([NewSnapshot]) and then only read, so
// any number of requests may use it at once; a schema change builds a new
// Snapshot and swaps it into the [Handler], while requests already running
// finish on the one they started with.
type Snapshot struct {
	opts     Options
	forward  map[string]bool // Options.ForwardHeaders, lowercased
	cors     *corsPolicy     // nil when CORS is off
	backends []*backendState
	methods  map[string]*method // by gRPC path, "/pkg.Service/Method"
	routes   router[*route]
	// routeList keeps every route in build order, for listings.
	routeList []*route
	// reflection is Portico's own reflection service over every backend's
	// schema, built on first use (reflection.go).
	reflection reflectionState
}

type backendState struct {
	name  string
	conn  grpc.ClientConnInterface
	types *schema.Resolver
	// schema is the backend's schema, for the reflection service.
	schema *schema.Schema
}

// method is one RPC, with everything a request needs resolved in advance.
type method struct {
	desc     protoreflect.MethodDescriptor
	grpcPath string // "/pkg.Service/Method"
	backend  *backendState
	input    protoreflect.MessageDescriptor
	output   protoreflect.MessageDescriptor
	// opts are the options for this method: the snapshot's, overridden by
	// its backend's or service's; forward is opts.ForwardHeaders as a set.
	opts    *Options
	forward map[string]bool
	// inputHTTPBody and outputHTTPBody are set when the message is
	// google.api.HttpBody.
	inputHTTPBody  *httpBodyFields
	outputHTTPBody *httpBodyFields
}

func (m *method) streaming() bool { return m.desc.IsStreamingClient() || m.desc.IsStreamingServer() }

// route is one HTTP binding of a method: an HTTP method and path template,
// plus how the request and response bodies map onto messages.
type route struct {
	method     *method
	httpMethod string
	template   *pathTemplate
	// pathFields holds, for each template variable, the field path it
	// binds, resolved against the input message.
	pathFields [][]protoreflect.FieldDescriptor
	// body is "" (no body), "*" (the whole input message) or the name of a
	// top-level input field; bodyField is that field. A path variable may
	// bind a field inside the body field ({book.name} with body "book"):
	// the path value wins.
	body      string
	bodyField protoreflect.FieldDescriptor
	// bodyHTTPBody is set when the body binds an HttpBody: the whole input
	// when it is one (body "*"), or the body field's message.
	bodyHTTPBody *httpBodyFields
	// responseField is the top-level output field named by response_body,
	// or nil for the whole message.
	responseField protoreflect.FieldDescriptor
	// responseHTTPBody is set when the response (or its response_body
	// field) is an HttpBody.
	responseHTTPBody *httpBodyFields
	// skipQuery tells the query binder which parameters to ignore: those
	// naming fields the path or the body field already bind.
	skipQuery func(path []protoreflect.FieldDescriptor) bool
	// grpcStyle marks the POST /pkg.Service/Method route every method has.
	grpcStyle bool
}

// NewSnapshot builds and validates a snapshot over backends. Every problem
// found is reported, not only the first: a service served by two backends,
// an HTTP rule whose template does not parse or binds a field that does not
// exist or cannot take a path value, and two methods claiming the same HTTP
// method and template.
func NewSnapshot(backends []Backend, opts Options) (*Snapshot, error) {
	corsOpts := opts.CORS
	corsOpts.AllowedHeaders = append(append([]string(nil), corsOpts.AllowedHeaders...), opts.ForwardHeaders...)
	s := &Snapshot{
		opts:    opts,
		forward: forwardSet(opts.ForwardHeaders),
		cors:    newCORSPolicy(corsOpts),
		methods: map[string]*method{},
	}
	var errs []error
	serviceOwner := map[protoreflect.FullName]string{}
	for _, b := range backends {
		if b.Schema == nil || b.Conn == nil {
			errs = append(errs, fmt.Errorf("backend %s: schema and connection are required", b.Name))
			continue
		}
		bs := &backendState{name: b.Name, conn: b.Conn, types: b.Schema.Types(), schema: b.Schema}
		s.backends = append(s.backends, bs)
		for _, sd := range b.Schema.Services() {
			if owner, dup := serviceOwner[sd.FullName()]; dup {
				errs = append(errs, fmt.Errorf("service %s is served by two backends, %s and %s; each service must have one backend", sd.FullName(), owner, b.Name))
				continue
			}
			serviceOwner[sd.FullName()] = b.Name
			opts := &s.opts
			if b.Options != nil {
				opts = b.Options
			}
			if so := b.ServiceOptions[sd.FullName()]; so != nil {
				opts = so
			}
			forward := s.forward
			if opts != &s.opts {
				forward = forwardSet(opts.ForwardHeaders)
			}
			methods := sd.Methods()
			for i := range methods.Len() {
				errs = append(errs, s.addMethod(bs, methods.Get(i), opts, forward)...)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("transcoder: invalid schema:\n%w", err)
	}
	return s, nil
}

func (s *Snapshot) addMethod(bs *backendState, md protoreflect.MethodDescriptor, opts *Options, forward map[string]bool) []error {
	m := &method{
		desc:           md,
		opts:           opts,
		forward:        forward,
		grpcPath:       "/" + string(md.Parent().FullName()) + "/" + string(md.Name()),
		backend:        bs,
		input:          md.Input(),
		output:         md.Output(),
		inputHTTPBody:  httpBodyFieldsOf(md.Input()),
		outputHTTPBody: httpBodyFieldsOf(md.Output()),
	}
	s.methods[m.grpcPath] = m

	var errs []error
	// Every method answers POST /pkg.Service/Method with the whole input
	// message as the body, whatever its annotations say.
	tmpl, err := parsePathTemplate(m.grpcPath)
	if err != nil {
		return []error{fmt.Errorf("method %s: %w", md.FullName(), err)}
	}
	r := &route{method: m, httpMethod: http.MethodPost, template: tmpl, body: "*", grpcStyle: true,
		bodyHTTPBody: m.inputHTTPBody, responseHTTPBody: m.outputHTTPBody}
	if err := s.addRoute(r); err != nil {
		errs = append(errs, err)
	}

	rule := httpRuleOf(md)
	if rule == nil {
		return errs
	}
	bindings := append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...)
	for i, b := range bindings {
		if i > 0 && len(b.GetAdditionalBindings()) > 0 {
			errs = append(errs, fmt.Errorf("method %s: additional_bindings must not nest", md.FullName()))
			continue
		}
		r, err := newRoute(m, b)
		if err != nil {
			errs = append(errs, fmt.Errorf("method %s (%s): %w", md.FullName(), md.ParentFile().Path(), err))
			continue
		}
		if err := s.addRoute(r); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func (s *Snapshot) addRoute(r *route) error {
	owner := fmt.Sprintf("%s (%s %s)", r.method.desc.FullName(), r.httpMethod, r.template)
	if err := s.routes.add(r.httpMethod, r.template, r, owner); err != nil {
		return err
	}
	s.routeList = append(s.routeList, r)
	return nil
}

// newRoute checks one HttpRule binding against the method's messages and
// resolves every field it names.
func newRoute(m *method, rule *annotations.HttpRule) (*route, error) {
	var httpMethod, path string
	switch p := rule.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		httpMethod, path = http.MethodGet, p.Get
	case *annotations.HttpRule_Put:
		httpMethod, path = http.MethodPut, p.Put
	case *annotations.HttpRule_Post:
		httpMethod, path = http.MethodPost, p.Post
	case *annotations.HttpRule_Delete:
		httpMethod, path = http.MethodDelete, p.Delete
	case *annotations.HttpRule_Patch:
		httpMethod, path = http.MethodPatch, p.Patch
	case *annotations.HttpRule_Custom:
		httpMethod, path = p.Custom.GetKind(), p.Custom.GetPath()
		if httpMethod == "" || strings.ContainsAny(httpMethod, " \t/") {
			return nil, fmt.Errorf("custom HTTP method %q is not a valid method name", httpMethod)
		}
	default:
		return nil, errors.New("HTTP rule has no pattern")
	}
	tmpl, err := parsePathTemplate(path)
	if err != nil {
		return nil, err
	}
	r := &route{method: m, httpMethod: httpMethod, template: tmpl}
	for _, v := range tmpl.variables {
		dotted := strings.Join(v.fieldPath, ".")
		fields, err := resolveFieldPath(m.input, dotted)
		if err != nil {
			return nil, fmt.Errorf("template %s: variable %s: %w", tmpl, dotted, err)
		}
		leaf := fields[len(fields)-1]
		if leaf.IsList() || leaf.IsMap() {
			return nil, fmt.Errorf("template %s: variable %s binds a repeated or map field; path variables take single values", tmpl, dotted)
		}
		if leaf.Kind() == protoreflect.MessageKind && !isPathBindableMessage(leaf.Message().FullName()) {
			return nil, fmt.Errorf("template %s: variable %s binds message %s; path variables take scalar values", tmpl, dotted, leaf.Message().FullName())
		}
		r.pathFields = append(r.pathFields, fields)
	}

	switch body := rule.GetBody(); body {
	case "":
	case "*":
		r.body = body
		r.bodyHTTPBody = m.inputHTTPBody
	default:
		fd := m.input.Fields().ByName(protoreflect.Name(body))
		if fd == nil {
			return nil, fmt.Errorf("body %q: %s has no such field (body names a top-level field)", body, m.input.FullName())
		}
		r.body, r.bodyField = body, fd
		if fd.Kind() == protoreflect.MessageKind && !fd.IsList() && !fd.IsMap() {
			r.bodyHTTPBody = httpBodyFieldsOf(fd.Message())
		}
	}

	bound := r.pathFields
	if r.bodyField != nil {
		bound = append(bound[:len(bound):len(bound)], []protoreflect.FieldDescriptor{r.bodyField})
	}
	r.skipQuery = skipBoundFieldPaths(bound...)

	r.responseHTTPBody = m.outputHTTPBody
	if rb := rule.GetResponseBody(); rb != "" {
		fd := m.output.Fields().ByName(protoreflect.Name(rb))
		if fd == nil {
			return nil, fmt.Errorf("response_body %q: %s has no such field (response_body names a top-level field)", rb, m.output.FullName())
		}
		r.responseField = fd
		r.responseHTTPBody = nil
		if fd.Kind() == protoreflect.MessageKind && !fd.IsList() && !fd.IsMap() {
			r.responseHTTPBody = httpBodyFieldsOf(fd.Message())
		}
	}
	return r, nil
}

// optionsFor returns the options that apply to m, or the snapshot's when m
// is nil (no method was found).
func (s *Snapshot) optionsFor(m *method) *Options {
	if m != nil {
		return m.opts
	}
	return &s.opts
}

// isPathBindableMessage reports the message types a path or query value can
// set from text: the wrappers and the well-known types with a string form.
func isPathBindableMessage(name protoreflect.FullName) bool {
	switch name {
	case "google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask",
		"google.protobuf.DoubleValue", "google.protobuf.FloatValue",
		"google.protobuf.Int64Value", "google.protobuf.UInt64Value",
		"google.protobuf.Int32Value", "google.protobuf.UInt32Value",
		"google.protobuf.BoolValue", "google.protobuf.StringValue", "google.protobuf.BytesValue":
		return true
	}
	return false
}

// httpRuleOf returns the method's google.api.http rule, or nil. The options
// are always re-read through the linked-in extension type: descriptors
// built from reflection or files may hold the extension as unknown bytes,
// and those compiled from .proto sources hold it as a dynamic message.
func httpRuleOf(md protoreflect.MethodDescriptor) *annotations.HttpRule {
	opts, ok := md.Options().(*descriptorpb.MethodOptions)
	if !ok || opts == nil {
		return nil
	}
	raw, err := proto.Marshal(opts)
	if err != nil {
		return nil
	}
	reparsed := new(descriptorpb.MethodOptions)
	if err := (proto.UnmarshalOptions{Resolver: protoregistry.GlobalTypes}).Unmarshal(raw, reparsed); err != nil {
		return nil
	}
	if !proto.HasExtension(reparsed, annotations.E_Http) {
		return nil
	}
	return proto.GetExtension(reparsed, annotations.E_Http).(*annotations.HttpRule)
}

// RouteInfo describes one route, for listings.
type RouteInfo struct {
	HTTPMethod string
	Template   string
	RPC        string // full method name, "pkg.Service.Method"
	Backend    string
}

// Routes lists every route in the snapshot, sorted by template, then HTTP
// method.
func (s *Snapshot) Routes() []RouteInfo {
	out := make([]RouteInfo, 0, len(s.routeList))
	for _, r := range s.routeList {
		out = append(out, RouteInfo{
			HTTPMethod: r.httpMethod,
			Template:   r.template.String(),
			RPC:        string(r.method.desc.FullName()),
			Backend:    r.method.backend.name,
		})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Template != out[j].Template {
			return out[i].Template < out[j].Template
		}
		return out[i].HTTPMethod < out[j].HTTPMethod
	})
	return out
}
