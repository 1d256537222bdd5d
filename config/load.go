package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is one problem with a config: where it is, the key path it concerns
// and what is wrong. Load, Parse, ApplyEnv and Validate return every
// problem they find, each an *Error, joined with errors.Join.
type Error struct {
	// File and Line locate the problem in the config file; Line is 0 when
	// it has no line (a key that is missing from a mapping at the top of
	// the file, or a Config built in Go).
	File string
	Line int
	// Env is the environment variable the value came from, if it did.
	Env string
	// Path is the key path, such as "backends[0].schema.source" or
	// `backends[1].services[pkg.Svc].transcoding.max_timeout`; "" for
	// problems with the file as a whole.
	Path string
	// Msg says what is wrong.
	Msg string
}

func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.Env != "":
		fmt.Fprintf(&b, "environment variable %s: ", e.Env)
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		fmt.Fprintf(&b, "%s: ", e.File)
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// location is where a key path was set: a line of the file, or an
// environment variable (or a Set call, with neither).
type location struct {
	line int
	env  string
}

// Load reads, decodes and validates the config file at path (see Parse).
// It does not apply environment overrides: call ApplyEnv for those.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, path)
}

// Parse decodes and validates a config file's contents. filename is used in
// error messages and, through its directory, to resolve relative paths in
// the file; "" means the current directory and "<config>" in messages.
//
// Decoding is strict: an unknown key, a duplicate key or a value of the
// wrong type is an error. ${VAR} references in values are replaced from the
// process environment first (see the package documentation). Every problem
// found is reported, not only the first, each as an *Error naming the file,
// the line and the key path; on any problem Parse returns a nil Config.
func Parse(data []byte, filename string) (*Config, error) {
	return parse(data, filename, os.LookupEnv)
}

func parse(data []byte, filename string, lookup func(string) (string, bool)) (*Config, error) {
	display := filename
	if display == "" {
		display = "<config>"
	}
	root, err := parseYAML(data, display)
	if err != nil {
		return nil, err
	}
	d := &decoder{
		file:   display,
		lookup: lookup,
		loc:    map[string]location{},
		bad:    map[string]bool{},
	}
	c := &Config{file: display}
	if root != nil {
		d.decode(root, valueOf(c), "")
	}
	c.loc = d.loc
	errs := d.errs
	errs = append(errs, c.validate(d.bad)...)
	if len(errs) > 0 {
		return nil, joinErrors(errs)
	}
	dir := "."
	if filename != "" {
		dir = filepath.Dir(filename)
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	c.resolvePaths(dir)
	return c, nil
}

// parseYAML parses data into its single document's root node; nil for an
// empty file.
func parseYAML(data []byte, file string) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, yamlSyntaxError(file, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, yamlSyntaxError(file, err)
		}
		return nil, &Error{File: file, Line: extra.Line, Msg: "a config file holds one YAML document; remove the second one (after ---)"}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// yamlSyntaxError turns a yaml.v3 parse error ("yaml: line 3: ...") into an
// *Error with the file and line.
func yamlSyntaxError(file string, err error) error {
	m := yamlLineRE.FindStringSubmatch(err.Error())
	if m == nil {
		return &Error{File: file, Msg: err.Error()}
	}
	line, _ := strconv.Atoi(m[1])
	return &Error{File: file, Line: line, Msg: "invalid YAML: " + m[2]}
}

// joinErrors sorts errs by line, keeping the order they were found in
// within a line, and joins them.
func joinErrors(errs []*Error) error {
	slices.SortStableFunc(errs, func(a, b *Error) int { return a.Line - b.Line })
	all := make([]error, len(errs))
	for i, e := range errs {
		all[i] = e
	}
	return errors.Join(all...)
}

// resolvePaths makes the relative file paths in c relative to dir.
func (c *Config) resolvePaths(dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	if t := c.Listen.TLS; t != nil {
		abs(&t.Cert)
		abs(&t.Key)
	}
	for i := range c.Backends {
		b := &c.Backends[i]
		if t := b.TLS; t != nil {
			abs(&t.CA)
			abs(&t.Cert)
			abs(&t.Key)
		}
		for j := range b.Schema.Files {
			abs(&b.Schema.Files[j])
		}
		if p := b.Schema.Protos; p != nil {
			abs(&p.Root)
		}
	}
}
