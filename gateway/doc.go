// Package gateway runs Portico from a config: it owns the connection to
// each backend, keeps each backend's schema current, builds transcoder
// snapshots from them and swaps them into the one transcoder.Handler that
// serves clients, and it answers the admin API.
//
// The life of a schema:
//
//  1. Each backend has a source (config.Schema): gRPC server reflection,
//     descriptor files, or .proto files compiled at load time.
//  2. A loader goroutine per backend loads it at start-up, retrying with
//     backoff until it succeeds, then keeps it current: reflection is polled
//     at the backend's refresh interval, files are watched (or polled at the
//     interval, when one is set). A schema that differs from the last one
//     loaded (compared by a fingerprint of its descriptors) triggers a
//     rebuild.
//  3. A rebuild makes a new transcoder.Snapshot from every backend's last
//     good schema and validates it in full (route conflicts, bad templates,
//     a service on two backends). Only a valid snapshot is swapped in;
//     otherwise the old one keeps serving and the error is logged, counted
//     and shown on the admin listener. Requests in flight finish on the
//     snapshot they started on.
//  4. A backend that cannot be reached keeps its last good schema, so its
//     routes stay and its calls fail with UNAVAILABLE until it is back.
//
// Reload (SIGHUP, or POST /admin/reload) re-reads the config file too:
// backends may be added, removed or changed, and every schema is loaded
// again before the new snapshot is swapped in.
//
// Readiness (/readyz on the admin listener) is false until every backend's
// schema has loaded once, or until the configured grace period has passed.
// Until then clients get 503 UNAVAILABLE rather than 404s for routes that
// are merely not known yet.
package gateway
