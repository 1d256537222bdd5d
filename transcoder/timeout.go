package transcoder

import (
	"errors"
	"time"
)

// parseGRPCTimeout parses a Grpc-Timeout header value: at most eight ASCII
// digits followed by a unit, H (hours), M (minutes), S (seconds), m
// (milliseconds), u (microseconds) or n (nanoseconds).
func parseGRPCTimeout(v string) (time.Duration, error) {
	if len(v) < 2 || len(v) > 9 {
		return 0, errors.New("want 1 to 8 digits and a unit")
	}
	var unit time.Duration
	switch v[len(v)-1] {
	case 'H':
		unit = time.Hour
	case 'M':
		unit = time.Minute
	case 'S':
		unit = time.Second
	case 'm':
		unit = time.Millisecond
	case 'u':
		unit = time.Microsecond
	case 'n':
		unit = time.Nanosecond
	default:
		return 0, errors.New("unknown unit; want one of H M S m u n")
	}
	var n int64
	for _, c := range v[:len(v)-1] {
		if c < '0' || c > '9' {
			return 0, errors.New("want 1 to 8 digits and a unit")
		}
		n = n*10 + int64(c-'0')
	}
	// 99999999 hours overflows time.Duration; such a timeout means "no
	// deadline worth the name", so it saturates.
	const maxDuration = time.Duration(1<<63 - 1)
	if unit > time.Second && n > int64(maxDuration/unit) {
		return maxDuration, nil
	}
	return time.Duration(n) * unit, nil
}

// callTimeout decides a call's deadline from the client's Grpc-Timeout
// header (empty when absent) and the snapshot's options: the client's
// timeout if it sent one, otherwise DefaultTimeout; either capped by
// MaxTimeout. Zero means no deadline.
func (o *Options) callTimeout(header string) (time.Duration, error) {
	timeout := o.DefaultTimeout
	if header != "" {
		t, err := parseGRPCTimeout(header)
		if err != nil {
			return 0, malformedRequest("invalid Grpc-Timeout %q: %v", header, err)
		}
		// A timeout of zero is a deadline already passed, not the absence
		// of one (zero means "none" only inside this function).
		timeout = max(t, time.Nanosecond)
	}
	if o.MaxTimeout > 0 && (timeout == 0 || timeout > o.MaxTimeout) {
		timeout = o.MaxTimeout
	}
	return timeout, nil
}
