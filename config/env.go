package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// EnvPrefix starts the name of every environment variable that overrides a
// setting.
const EnvPrefix = "PORTICO_"

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// interpolate replaces ${NAME} and ${NAME:-default} in s, and turns $${
// into a literal ${. It reports whether s held any of these, and each
// problem found: an unset variable, a malformed or unclosed reference.
func interpolate(s string, lookup func(string) (string, bool)) (out string, interpolated bool, problems []string) {
	if !strings.Contains(s, "${") {
		return s, false, nil
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '$')
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		s = s[i:]
		switch {
		case strings.HasPrefix(s, "$${"):
			b.WriteString("${")
			s = s[3:]
			interpolated = true
		case strings.HasPrefix(s, "${"):
			interpolated = true
			end := strings.IndexByte(s, '}')
			if end < 0 {
				problems = append(problems, fmt.Sprintf("unclosed %q: want ${NAME} or ${NAME:-default} (write $${ for a literal ${)", s))
				s = ""
				continue
			}
			ref := s[:end+1]
			name, def, hasDef := strings.Cut(s[2:end], ":-")
			s = s[end+1:]
			if !envNameRE.MatchString(name) {
				problems = append(problems, fmt.Sprintf("invalid reference %q: want ${NAME} or ${NAME:-default}, NAME made of letters, digits and _ (write $${ for a literal ${)", ref))
				continue
			}
			val, ok := lookup(name)
			switch {
			case hasDef && (!ok || val == ""):
				val = def
			case !ok:
				problems = append(problems, fmt.Sprintf("environment variable %s is not set (referenced as %s; ${%s:-default} gives a default)", name, ref, name))
				continue
			}
			b.WriteString(val)
		default:
			b.WriteByte('$')
			s = s[1:]
		}
	}
	return b.String(), interpolated, problems
}

// Setting is one setting that ApplyEnv and Config.Set can change.
type Setting struct {
	// Key is the setting's key path in the file, such as
	// "transcoding.default_timeout".
	Key string
	// Env is the environment variable that overrides it, such as
	// "PORTICO_TRANSCODING_DEFAULT_TIMEOUT".
	Env string
}

// Settings lists every setting that can be set from the environment (and
// with Config.Set), in the order of the file. They are the scalar settings
// outside lists and maps, version excepted: listen, admin, the top-level
// transcoding and cors sections and readiness. Lists (forward_headers,
// allowed_origins, ...) and anything under backends are left out.
func Settings() []Setting { return slices.Clone(settings()) }

var settings = sync.OnceValue(func() []Setting {
	var out []Setting
	var walk func(t reflect.Type, key string)
	walk = func(t reflect.Type, key string) {
		for i := range t.NumField() {
			sf := t.Field(i)
			name := yamlName(sf)
			if name == "" || (key == "" && name == "version") {
				continue
			}
			k := joinPath(key, name)
			ft := sf.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			switch {
			case ft == durationType:
			case ft.Kind() == reflect.Struct:
				walk(ft, k)
				continue
			case ft.Kind() == reflect.Slice || ft.Kind() == reflect.Map:
				continue
			}
			out = append(out, Setting{Key: k, Env: EnvName(k)})
		}
	}
	walk(reflect.TypeFor[Config](), "")
	return out
})

// EnvName is the environment variable for a key path: PORTICO_ and the
// path in upper case, dots turned to underscores ("listen.address" is
// PORTICO_LISTEN_ADDRESS).
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// envSections are the PORTICO_ prefixes of the sections Settings draws
// from, plus backends: a variable under one of them that names no setting
// is a mistake worth reporting, where other PORTICO_ variables (such as
// one the CLI reads for the config file's path) are none of ApplyEnv's
// business.
var envSections = []string{"LISTEN_", "ADMIN_", "TRANSCODING_", "CORS_", "READINESS_", "BACKENDS_"}

// ApplyEnv overrides settings of c from environment variables, given as
// os.Environ returns them ("NAME=value"). Each setting of Settings has its
// variable: PORTICO_ and the key path in upper snake case, such as
// PORTICO_LISTEN_ADDRESS, PORTICO_ADMIN_ADDRESS or
// PORTICO_TRANSCODING_DEFAULT_TIMEOUT. A variable set to the empty string
// is ignored. Values are written as in the file, without ${VAR}
// interpolation; booleans also take 1 and 0.
//
// A PORTICO_LISTEN_*, PORTICO_ADMIN_*, PORTICO_TRANSCODING_*,
// PORTICO_CORS_*, PORTICO_READINESS_* or PORTICO_BACKENDS_* variable that
// names no setting is an error (list-valued and per-backend settings
// cannot be set from the environment); other variables are ignored.
//
// ApplyEnv then validates c again, and returns every problem found.
func ApplyEnv(c *Config, environ []string) error {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, EnvPrefix) {
			env[k] = v
		}
	}
	known := map[string]string{}
	for _, s := range settings() {
		known[s.Env] = s.Key
	}
	var errs []*Error
	bad := map[string]bool{}
	var names []string
	for k := range env {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, name := range names {
		value := env[name]
		key, ok := known[name]
		if !ok {
			rest := strings.TrimPrefix(name, EnvPrefix)
			if slices.ContainsFunc(envSections, func(s string) bool { return strings.HasPrefix(rest, s) }) {
				errs = append(errs, &Error{Env: name, Msg: "names no setting that the environment can override" + suggestEnv(name)})
			}
			continue
		}
		if value == "" {
			continue
		}
		if err := c.set(key, value, location{env: name}); err != nil {
			errs = append(errs, &Error{Env: name, Path: key, Msg: err.Error()})
			bad[key] = true
		}
	}
	errs = append(errs, c.validate(bad)...)
	if len(errs) > 0 {
		return joinErrors(errs)
	}
	return nil
}

func suggestEnv(name string) string {
	best, bestDist := "", 3
	for _, s := range settings() {
		if d := editDistance(name, s.Env); d < bestDist {
			best, bestDist = s.Env, d
		}
	}
	if best != "" {
		return fmt.Sprintf("; did you mean %s?", best)
	}
	return " (lists and backend settings are set in the file only)"
}

// Set sets one setting of Settings, by key path, from its text form as it
// would be written in the file ("30s", "true", "4194304", ":8443"). The CLI
// uses it to apply the flags the user gave, over the file and the
// environment; call Validate afterwards. Relative paths are kept as given
// (relative to the working directory), unlike those in the file.
func (c *Config) Set(key, value string) error {
	return c.set(key, value, location{})
}

var errUnknownSetting = errors.New("not a setting that can be set this way (see config.Settings)")

func (c *Config) set(key, value string, loc location) error {
	if !slices.ContainsFunc(settings(), func(s Setting) bool { return s.Key == key }) {
		return fmt.Errorf("%s: %w", key, errUnknownSetting)
	}
	v := reflect.ValueOf(c).Elem()
	for part := range strings.SplitSeq(key, ".") {
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(fieldsOf(v.Type()).index[part])
	}
	target := v
	if v.Kind() == reflect.Pointer {
		target = reflect.New(v.Type().Elem()).Elem()
	}
	switch {
	case target.Type() == durationType:
		d, err := parseDuration(value)
		if err != nil {
			return err
		}
		target.SetInt(int64(d))
	case target.Kind() == reflect.String:
		target.SetString(value)
	case target.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(value)
		if err != nil {
			return fmt.Errorf("want true or false, got %q", value)
		}
		target.SetBool(b)
	case target.Kind() == reflect.Int || target.Kind() == reflect.Int64:
		i, err := strconv.ParseInt(value, 0, target.Type().Bits())
		if err != nil {
			return fmt.Errorf("want an integer, got %q", value)
		}
		target.SetInt(i)
	default:
		return fmt.Errorf("%s: %w", key, errUnknownSetting)
	}
	if v.Kind() == reflect.Pointer {
		v.Set(target.Addr())
	}
	if c.loc == nil {
		c.loc = map[string]location{}
	}
	c.loc[key] = loc
	return nil
}
