package transcoder

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// router maps (HTTP method, request path) to a value of type T, using the
// path templates of google.api.HttpRule.
//
// Routes live in a trie with one node per template segment. A node has
// literal children (keyed by the literal text), at most one "*" child and at
// most one "**" child. A template has at most one "**", anywhere in it.
// Leaves are keyed by custom verb ("" for none),
// then by HTTP method. Two templates are the same route when they agree on
// segment kinds, literals and verb; variable names and positions do not
// matter, so "/v1/{a}" and "/v1/*" conflict for the same HTTP method.
//
// Lookup is a depth-first search with backtracking; it never scans all
// routes. The rules, in the order they are applied:
//
//  1. The escaped request path is split at '/'. Each segment is
//     percent-decoded once; if any segment has an invalid escape the request
//     matches nothing (404).
//  2. Custom verb: if the last (escaped) request segment contains ':' with
//     something after it, the search is first run with that segment split at
//     its LAST ':' into (segment, verb); then it is run again with the whole
//     segment and no verb. An encoded colon (%3A) never separates a verb, and
//     a trailing ':' is part of the segment.
//  3. At each request segment the alternatives are tried in the order:
//     literal child (compared with the percent-decoded segment), then the
//     "*" child, then the "**" child. "**" is greedy: it first takes every
//     remaining segment, then one fewer at a time, down to none, so that
//     "/v1/{a=**}/{b}" gives b the last segment. When the request segments
//     run out, a route ending at the current node beats a "**" that matches
//     zero segments. If an alternative fails deeper in the trie, the search
//     backtracks to the next one.
//  4. An empty request segment (as in "/v1/shelves/" or "/v1//x") is matched
//     by neither a literal nor "*"; "**" matches any run of segments,
//     including empty ones and none at all ("/v1/**" matches "/v1").
//  5. A template that matches the path but has no route for the HTTP method
//     does not stop the search: the first match, in the order above, that has
//     a route for the method wins, even if it comes after path-only matches
//     (including those from the verb-split attempt). Only if no match has the
//     method is the result a 405, whose Allow list is the sorted union of the
//     methods of every template that matched the path in either attempt.
//
// Variable values: a variable bound to exactly one template segment other
// than "**" gets the fully percent-decoded request segment. A variable bound
// to several segments, or ending in "**", gets the escaped request segments
// joined with '/' and percent-decoded except that %2F and %2f are kept as they
// are, so the value's '/' separators stay distinguishable from encoded ones.
//
// The zero router is empty and ready to use. It is not safe for concurrent
// use while routes are being added; concurrent match calls are fine.
type router[T any] struct {
	root    routerNode
	entries []routeEntry[T]
}

// routerNode is not generic, and leaves refer to routes by index into
// router.entries, so that the search code is not generic either: that keeps
// its per-request state on the stack.
type routerNode struct {
	literals map[string]*routerNode
	wildcard *routerNode
	double   *routerNode
	// leaves: verb -> HTTP method -> index into router.entries.
	leaves map[string]map[string]int
}

type routeEntry[T any] struct {
	value    T
	template *pathTemplate
	owner    string
	method   string
}

// routeMatch is the result of a successful lookup.
type routeMatch[T any] struct {
	value    T
	template *pathTemplate
	// values holds one decoded value per template.variables, in that order.
	values []string
}

// add registers value for httpMethod and tmpl. owner names the claimant (for
// example "pkg.Svc.Method") for conflict errors.
func (r *router[T]) add(httpMethod string, tmpl *pathTemplate, value T, owner string) error {
	if tmpl == nil {
		return errors.New("router: nil path template")
	}
	if httpMethod == "" {
		return fmt.Errorf("router: %s: empty HTTP method for path template %q", owner, tmpl.raw)
	}
	n := &r.root
	for _, seg := range tmpl.segments {
		switch seg.kind {
		case segmentLiteral:
			if n.literals == nil {
				n.literals = make(map[string]*routerNode)
			}
			child := n.literals[seg.literal]
			if child == nil {
				child = &routerNode{}
				n.literals[seg.literal] = child
			}
			n = child
		case segmentWildcard:
			if n.wildcard == nil {
				n.wildcard = &routerNode{}
			}
			n = n.wildcard
		case segmentDoubleWildcard:
			if n.double == nil {
				n.double = &routerNode{}
			}
			n = n.double
		}
	}
	if n.leaves == nil {
		n.leaves = make(map[string]map[string]int)
	}
	byMethod := n.leaves[tmpl.verb]
	if byMethod == nil {
		byMethod = make(map[string]int)
		n.leaves[tmpl.verb] = byMethod
	}
	if i, dup := byMethod[httpMethod]; dup {
		prev := &r.entries[i]
		return fmt.Errorf("router: conflicting routes for %s %q: %s and %s (%s %q) both claim it",
			httpMethod, tmpl.raw, owner, prev.owner, prev.method, prev.template.raw)
	}
	byMethod[httpMethod] = len(r.entries)
	r.entries = append(r.entries, routeEntry[T]{value: value, template: tmpl, owner: owner, method: httpMethod})
	return nil
}

// len returns the number of routes.
func (r *router[T]) len() int { return len(r.entries) }

// maxStackSegments is how many request segments match handles without
// allocating for the segment lists.
const maxStackSegments = 16

type matchState struct {
	method string
	raw    []string // escaped segments
	dec    []string // percent-decoded segments
	verb   string
	found  int // index into router.entries, or -1
	// doubleLen is how many request segments the "**" on the path being
	// tried takes. A template has at most one "**", so the value set last on
	// the successful path is its.
	doubleLen int
	// pathOnly records that some template matched without a route for
	// the method. The Allow list is gathered by a second search ([collectAllow])
	// only then: appending to a slice here would make the compiler move the
	// segment buffers to the heap.
	pathOnly bool
}

// match looks up a request. path is the escaped request path
// (r.URL.EscapedPath()); it must start with '/'. See [router] for the rules.
//
// On success it returns the match and ok=true. If the path matches some
// template but none with a route for httpMethod, ok is false and allow holds
// the sorted distinct methods of the matching templates (for a 405 Allow
// header). If nothing matches, ok is false and allow is nil (404).
func (r *router[T]) match(httpMethod, path string) (m routeMatch[T], ok bool, allow []string) {
	if path == "" || path[0] != '/' {
		return m, false, nil
	}
	rest := path[1:]
	nseg := strings.Count(rest, "/") + 1
	var rawBuf, decBuf [maxStackSegments]string
	st := matchState{method: httpMethod, raw: rawBuf[:0], dec: decBuf[:0], found: -1}
	if nseg > maxStackSegments {
		st.raw = make([]string, 0, nseg)
		st.dec = make([]string, 0, nseg)
	}
	for {
		i := strings.IndexByte(rest, '/')
		seg := rest
		if i >= 0 {
			seg = rest[:i]
		}
		d, err := unescapeSegment(seg, false)
		if err != nil {
			return m, false, nil
		}
		st.raw = append(st.raw, seg)
		st.dec = append(st.dec, d)
		if i < 0 {
			break
		}
		rest = rest[i+1:]
	}

	last := len(st.raw) - 1
	wholeRaw, wholeDec := st.raw[last], st.dec[last]
	if c := strings.LastIndexByte(wholeRaw, ':'); c >= 0 && c < len(wholeRaw)-1 {
		// The pieces of a valid segment are themselves valid.
		seg, _ := unescapeSegment(wholeRaw[:c], false)
		verb, _ := unescapeSegment(wholeRaw[c+1:], false)
		st.raw[last], st.dec[last], st.verb = wholeRaw[:c], seg, verb
		st.walk(&r.root, 0)
		if st.found < 0 {
			if st.pathOnly {
				allow = collectAllow(&r.root, st.dec, 0, verb, allow)
			}
			st.raw[last], st.dec[last], st.verb = wholeRaw, wholeDec, ""
			st.walk(&r.root, 0)
		}
	} else {
		st.walk(&r.root, 0)
	}

	if st.found < 0 {
		if st.pathOnly {
			// On a verb split, the whole-segment attempt is the one in
			// st.dec now; the split attempt was collected above.
			allow = collectAllow(&r.root, st.dec, 0, "", allow)
		}
		if len(allow) == 0 {
			return m, false, nil
		}
		slices.Sort(allow)
		return m, false, slices.Compact(allow)
	}
	e := &r.entries[st.found]
	m.value, m.template = e.value, e.template
	if len(e.template.variables) > 0 {
		m.values = make([]string, len(e.template.variables))
		double := e.template.doubleWildcard()
		// toRequest maps a template segment boundary to a request segment
		// boundary: one to one before the "**", shifted by what it took
		// after it.
		toRequest := func(j int) int {
			if double >= 0 && j > double {
				return j - 1 + st.doubleLen
			}
			return j
		}
		for i, v := range e.template.variables {
			if v.end-v.start == 1 && v.start != double {
				m.values[i] = st.dec[toRequest(v.start)]
				continue
			}
			m.values[i] = joinSegments(st.raw[toRequest(v.start):toRequest(v.end)])
		}
	}
	return m, true, nil
}

// walk searches the trie below n for request segments i and on. It returns
// true once st.found is set.
func (st *matchState) walk(n *routerNode, i int) bool {
	if i == len(st.dec) {
		if st.leaf(n) {
			return true
		}
	} else if seg := st.dec[i]; seg != "" {
		if child := n.literals[seg]; child != nil && st.walk(child, i+1) {
			return true
		}
		if n.wildcard != nil && st.walk(n.wildcard, i+1) {
			return true
		}
	}
	// "**" takes the most segments first, then fewer, down to none.
	if n.double != nil {
		for k := len(st.dec) - i; k >= 0; k-- {
			st.doubleLen = k
			if st.walk(n.double, i+k) {
				return true
			}
		}
	}
	return false
}

// leaf checks the routes ending at n for the current verb. A route for the
// method ends the search; otherwise the methods present are noted for Allow.
func (st *matchState) leaf(n *routerNode) bool {
	byMethod := n.leaves[st.verb]
	if len(byMethod) == 0 {
		return false
	}
	if e, ok := byMethod[st.method]; ok {
		st.found = e
		return true
	}
	st.pathOnly = true
	return false
}

// collectAllow appends to allow the HTTP methods of every route whose
// template matches the decoded segments dec[i:] below n with the given verb.
// It visits the same alternatives as [matchState.walk], without stopping.
func collectAllow(n *routerNode, dec []string, i int, verb string, allow []string) []string {
	if i == len(dec) {
		allow = appendMethods(n, verb, allow)
	} else if seg := dec[i]; seg != "" {
		if child := n.literals[seg]; child != nil {
			allow = collectAllow(child, dec, i+1, verb, allow)
		}
		if n.wildcard != nil {
			allow = collectAllow(n.wildcard, dec, i+1, verb, allow)
		}
	}
	if n.double != nil {
		for k := len(dec) - i; k >= 0; k-- {
			allow = collectAllow(n.double, dec, i+k, verb, allow)
		}
	}
	return allow
}

func appendMethods(n *routerNode, verb string, allow []string) []string {
	for method := range n.leaves[verb] {
		allow = append(allow, method)
	}
	return allow
}

// joinSegments joins escaped segments with '/' and unescapes the result,
// keeping %2F and %2f as they are. The segments are known to be valid.
func joinSegments(raw []string) string {
	if len(raw) == 1 {
		s, _ := unescapeSegment(raw[0], true)
		return s
	}
	s, _ := unescapeSegment(strings.Join(raw, "/"), true)
	return s
}

var errBadEscape = errors.New("invalid percent-encoding")

// unescapeSegment percent-decodes s. With keepSlash, %2F and %2f are left
// encoded. It allocates only when s contains an escape.
func unescapeSegment(s string, keepSlash bool) (string, error) {
	n := strings.IndexByte(s, '%')
	if n < 0 {
		return s, nil
	}
	var sb strings.Builder
	sb.Grow(len(s))
	sb.WriteString(s[:n])
	for i := n; i < len(s); {
		c := s[i]
		if c != '%' {
			sb.WriteByte(c)
			i++
			continue
		}
		if i+2 >= len(s) {
			return "", errBadEscape
		}
		hi, ok1 := unhex(s[i+1])
		lo, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 {
			return "", errBadEscape
		}
		b := hi<<4 | lo
		if keepSlash && b == '/' {
			sb.WriteString(s[i : i+3])
		} else {
			sb.WriteByte(b)
		}
		i += 3
	}
	return sb.String(), nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
