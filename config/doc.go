// Package config reads Portico's config file, the one given to
// "portico serve --config portico.yaml".
//
// # The file
//
// The file is YAML. Its types are declared in this package ([Config] and
// what it holds), and their field comments are the reference: each says
// what the key does and what leaving it out means. A complete, commented
// example is examples/portico.yaml in the repository, and
// config/portico.schema.json is a JSON Schema of the file for editors
// (add "# yaml-language-server: $schema=<path or URL to it>" at its top).
// In short:
//
//	version: 1                      # required
//	listen:      {address: ":8080", tls: {cert: ..., key: ...}}
//	admin:       {address: "127.0.0.1:9901", disabled: false}
//	transcoding: {...}              # defaults for every backend
//	cors:        {allowed_origins: [...], ...}
//	backends:
//	  - name: library
//	    target: localhost:9090      # or targets: [a:9090, b:9090]
//	    tls: {...}                  # optional: TLS to the backend
//	    schema: {source: reflection}  # or files / protos
//	    transcoding: {...}          # overrides for this backend
//	    services:
//	      pkg.v1.Service: {transcoding: {...}}  # and for one service
//	readiness:   {grace_period: 0s}
//
// The version key is required, so that a later format can be told apart;
// 1 is the only version there is.
//
// # Strictness and errors
//
// Decoding is strict. An unknown key (with a "did you mean" for a
// misspelling), a duplicate key, a value of the wrong type and every
// invalid setting is an error; [Load] and [Parse] report them all at once,
// not only the first, each naming the file, the line and the key path:
//
//	portico.yaml:12: backends[0].schema.source: unknown source "reflect"; want reflection, files or protos
//
// Each problem is an [*Error], joined with errors.Join. A null value (~)
// means the same as leaving the key out. YAML anchors, aliases and merge
// keys (<<: *defaults) work, so that settings can be shared between
// backends; top-level keys starting with "x-" are ignored, as a place to
// define such anchors:
//
//	x-strict: &strict {reject_unknown_query_parameters: true, max_timeout: 30s}
//	backends:
//	  - {name: a, target: "a:9090", transcoding: *strict}
//
// # ${VAR} interpolation
//
// Scalar values (not keys, not comments) may refer to environment
// variables, which is how secrets and per-deployment values get into a
// file that is checked in:
//
//	server_name: ${BACKEND_HOST}          # the variable must be set
//	target: ${LIBRARY_ADDR:-localhost:9090}  # a default when unset or empty
//	note: $${NOT_A_VAR}                   # $${ is a literal ${
//
// A reference to a variable that is not set, without a default, is an
// error naming the variable and the line. Interpolation happens after the
// YAML is parsed, value by value, so a variable's value is never read as
// YAML structure: whatever it holds, it stays one value (a boolean or
// number setting parses the substituted text). Only "${" is special: a "$"
// not followed by "{" is kept as it is.
//
// # Environment overrides
//
// [ApplyEnv] overrides settings from PORTICO_* environment variables, named
// by key path: PORTICO_ and the path in upper snake case.
//
//	PORTICO_LISTEN_ADDRESS=:9000
//	PORTICO_ADMIN_ADDRESS=127.0.0.1:9902
//	PORTICO_TRANSCODING_DEFAULT_TIMEOUT=5s
//	PORTICO_CORS_ALLOW_CREDENTIALS=true
//
// Only scalar settings outside lists and maps can be overridden this way
// ([Settings] lists them): listen, admin, the top-level transcoding and
// cors sections, and readiness. List-valued settings (forward_headers,
// allowed_origins, ...) and everything under backends cannot, as there is
// no unambiguous name for an element of a list; use ${VAR} in the file for
// those. A variable in one of those sections that names no setting is an
// error, so that typos do not go unnoticed.
//
// # Precedence
//
// Flags override the environment, which overrides the file, which
// overrides the defaults. The CLI does:
//
//	c, err := config.Load(path)      // or config.Default() without a file
//	err = config.ApplyEnv(c, os.Environ())
//	err = c.Set("listen.address", v) // for each flag the user gave
//	err = c.Validate()
//
// # Transcoding settings
//
// Transcoding settings come in three levels: the top-level transcoding
// section, each backend's, and each service's (under the backend's
// services). A level overrides only the keys it sets, and
// [Config.TranscoderOptions] merges them into the transcoder.Options for a
// backend and service.
//
// # Paths
//
// Relative paths in the file (TLS files, schema files, the protos root)
// are relative to the directory of the config file, not to the working
// directory, so a config and the files it names can move together. Load
// and Parse return them joined to that directory. Paths from the
// environment or from Set are used as given. Files are not opened here:
// the components that use them do, and report their own errors.
package config
