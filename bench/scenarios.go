package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	benchv1 "github.com/portico-gw/portico/gen/portico/bench/v1"
)

// streamCount is how many messages the server-stream scenario sends.
const streamCount = 10_000

// A scenario is one kind of request, served by some of the systems.
type scenario struct {
	name  string
	title string
	// what the request is, per system, for the report
	detail   string
	systems  []string
	messages int // messages per request; figures are per message when > 1
	// newCaller makes a client of system at addr for this scenario.
	newCaller func(system, addr string) (*caller, error)
}

// A caller makes one request per call and checks once, with check, that
// the system answers it correctly.
type caller struct {
	call  func(ctx context.Context) error
	check func(ctx context.Context) error
	close func()
}

var scenarios = []*scenario{
	{
		name: "rest-get", title: "REST unary GET with a path variable",
		detail:   "`GET /v1/items/item-42` → `Item` (~200 B of JSON); direct-grpc: `GetItem` with grpc-go",
		systems:  []string{sysDirect, sysPortico, sysGateway, sysVanguard},
		messages: 1,
		newCaller: func(system, addr string) (*caller, error) {
			if system == sysDirect {
				return grpcCaller(addr, func(ctx context.Context, c benchv1.BenchServiceClient) error {
					it, err := c.GetItem(ctx, &benchv1.GetItemRequest{Id: "item-42"})
					if err == nil && it.GetId() != "item-42" {
						err = fmt.Errorf("got item %q", it.GetId())
					}
					return err
				})
			}
			c, err := restCaller(addr, http.MethodGet, "/v1/items/item-42", nil, func(body []byte) error {
				return checkJSON(body, smallItem("item-42"), new(benchv1.Item))
			})
			if err != nil {
				return nil, err
			}
			return c.caller, nil
		},
	},
	{
		name: "rest-post-64k", title: "REST unary POST, ~64 KiB nested JSON body",
		detail:   "`POST /v1/orders` with an `Order` of line items (strings, numbers, enums, Timestamps, nested messages), echoed back; direct-grpc: `CreateOrder`",
		systems:  []string{sysDirect, sysPortico, sysGateway, sysVanguard},
		messages: 1,
		newCaller: func(system, addr string) (*caller, error) {
			if system == sysDirect {
				return grpcCaller(addr, func(ctx context.Context, c benchv1.BenchServiceClient) error {
					o, err := c.CreateOrder(ctx, payloads.order)
					if err == nil && len(o.GetLineItems()) != len(payloads.order.LineItems) {
						err = fmt.Errorf("got %d line items", len(o.GetLineItems()))
					}
					return err
				})
			}
			c, err := restCaller(addr, http.MethodPost, "/v1/orders", payloads.orderJSON, func(body []byte) error {
				return checkJSON(body, payloads.order, new(benchv1.Order))
			})
			if err != nil {
				return nil, err
			}
			return c.caller, nil
		},
	},
	{
		name: "rest-stream-10k", title: "REST server stream of 10,000 messages",
		detail:   "`GET /v1/items:stream?count=10000`: NDJSON from Portico, grpc-gateway's newline-delimited `{\"result\":…}` envelope; direct-grpc: `StreamItems`. Figures are per message",
		systems:  []string{sysDirect, sysPortico, sysGateway, sysVanguard},
		messages: streamCount,
		newCaller: func(system, addr string) (*caller, error) {
			if system == sysDirect {
				return grpcCaller(addr, func(ctx context.Context, c benchv1.BenchServiceClient) error {
					s, err := c.StreamItems(ctx, &benchv1.StreamItemsRequest{Count: streamCount})
					if err != nil {
						return err
					}
					n := 0
					for {
						if _, err := s.Recv(); err == io.EOF {
							break
						} else if err != nil {
							return err
						}
						n++
					}
					if n != streamCount {
						return fmt.Errorf("got %d messages", n)
					}
					return nil
				})
			}
			c, err := restCaller(addr, http.MethodGet, fmt.Sprintf("/v1/items:stream?count=%d", streamCount), nil, func(body []byte) error {
				lines := bytes.Split(bytes.TrimRight(body, "\n"), []byte("\n"))
				if len(lines) != streamCount {
					return fmt.Errorf("got %d lines, want %d; first: %.200s", len(lines), streamCount, body)
				}
				if !bytes.Contains(lines[0], []byte(`"id":"item-0"`)) || !bytes.Contains(lines[len(lines)-1], []byte(fmt.Sprintf(`"id":"item-%d"`, streamCount-1))) {
					return fmt.Errorf("unexpected lines: %.200s … %.200s", lines[0], lines[len(lines)-1])
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
			// The timed call counts lines instead of keeping the body.
			client := c.client
			url := "http://" + addr + fmt.Sprintf("/v1/items:stream?count=%d", streamCount)
			c.call = func(ctx context.Context) error {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				if err != nil {
					return err
				}
				resp, err := client.Do(req)
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					return fmt.Errorf("status %d", resp.StatusCode)
				}
				bp := bufPool.Get().(*[]byte)
				defer bufPool.Put(bp)
				n := 0
				for {
					k, err := resp.Body.Read(*bp)
					n += bytes.Count((*bp)[:k], []byte("\n"))
					if err == io.EOF {
						break
					}
					if err != nil {
						return err
					}
				}
				if n != streamCount {
					return fmt.Errorf("got %d lines", n)
				}
				return nil
			}
			return c.caller, nil
		},
	},
	{
		name: "grpcweb-unary", title: "gRPC-Web unary (binary)",
		detail:   "`POST /portico.bench.v1.BenchService/GetItem`, `application/grpc-web+proto`, over HTTP/1.1; direct-grpc: `GetItem` with grpc-go",
		systems:  []string{sysDirect, sysPortico, sysVanguard},
		messages: 1,
		newCaller: func(system, addr string) (*caller, error) {
			if system == sysDirect {
				return directGetItem(addr)
			}
			return rpcHTTPCaller(addr, "application/grpc-web+proto", http.Header{"X-Grpc-Web": {"1"}}, frame(payloads.getItemReq), checkGRPCWebItem)
		},
	},
	{
		name: "connect-unary", title: "Connect unary (binary)",
		detail:   "`POST /portico.bench.v1.BenchService/GetItem`, `application/proto`, `Connect-Protocol-Version: 1`, over HTTP/1.1; direct-grpc: `GetItem` with grpc-go",
		systems:  []string{sysDirect, sysPortico, sysVanguard},
		messages: 1,
		newCaller: func(system, addr string) (*caller, error) {
			if system == sysDirect {
				return directGetItem(addr)
			}
			return rpcHTTPCaller(addr, "application/proto", http.Header{"Connect-Protocol-Version": {"1"}}, payloads.getItemReq, func(body []byte) error {
				it := new(benchv1.Item)
				if err := proto.Unmarshal(body, it); err != nil {
					return err
				}
				return equal(it, smallItem("item-42"))
			})
		},
	},
	{
		name: "grpc-passthrough", title: "gRPC pass-through unary",
		detail:   "grpc-go client → proxy (h2c) → backend, `GetItem`",
		systems:  []string{sysDirect, sysPortico, sysHTTPUtil},
		messages: 1,
		newCaller: func(system, addr string) (*caller, error) {
			return directGetItem(addr)
		},
	},
}

func scenarioByName(name string) *scenario {
	for _, s := range scenarios {
		if s.name == name {
			return s
		}
	}
	return nil
}

// payloads are built once.
var payloads struct {
	order      *benchv1.Order
	orderJSON  []byte
	getItemReq []byte
}

func init() {
	payloads.order = bigOrder()
	payloads.orderJSON = mustJSON(payloads.order)
	payloads.getItemReq, _ = proto.Marshal(&benchv1.GetItemRequest{Id: "item-42"})
}

func mustJSON(m proto.Message) []byte {
	b, err := protojson.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func checkJSON(body []byte, want, got proto.Message) error {
	if err := protojson.Unmarshal(body, got); err != nil {
		return fmt.Errorf("reply %.200s: %w", body, err)
	}
	return equal(got, want)
}

func equal(got, want proto.Message) error {
	if !proto.Equal(got, want) {
		g := mustJSON(got)
		return fmt.Errorf("reply differs from the expected message: got %.300s", g)
	}
	return nil
}

func directGetItem(addr string) (*caller, error) {
	return grpcCaller(addr, func(ctx context.Context, c benchv1.BenchServiceClient) error {
		it, err := c.GetItem(ctx, &benchv1.GetItemRequest{Id: "item-42"})
		if err == nil && it.GetId() != "item-42" {
			err = fmt.Errorf("got item %q", it.GetId())
		}
		return err
	})
}

// grpcCaller calls through grpc-go on one connection (h2c).
func grpcCaller(addr string, call func(context.Context, benchv1.BenchServiceClient) error) (*caller, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	c := benchv1.NewBenchServiceClient(conn)
	f := func(ctx context.Context) error { return call(ctx, c) }
	return &caller{call: f, check: f, close: func() { conn.Close() }}, nil
}

type httpCaller struct {
	*caller
	client *http.Client
}

// newHTTPClient is a keep-alive HTTP/1.1 client with enough idle
// connections for the load generator's concurrency.
func newHTTPClient() (*http.Client, func()) {
	var p http.Protocols
	p.SetHTTP1(true)
	tr := &http.Transport{
		Protocols:           &p,
		MaxIdleConns:        128,
		MaxIdleConnsPerHost: 128,
		DisableCompression:  true,
	}
	return &http.Client{Transport: tr}, tr.CloseIdleConnections
}

// restCaller sends method path with body (JSON) and checks the reply with
// check once.
func restCaller(addr, method, path string, body []byte, check func([]byte) error) (*httpCaller, error) {
	client, closeFn := newHTTPClient()
	url := "http://" + addr + path
	do := func(ctx context.Context, keep bool) ([]byte, error) {
		var r io.Reader
		if body != nil {
			r = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, url, r)
		if err != nil {
			return nil, err
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(resp.Body)
			return nil, fmt.Errorf("%s %s: status %d: %.300s", method, path, resp.StatusCode, b)
		}
		if keep {
			return io.ReadAll(resp.Body)
		}
		_, err = io.Copy(io.Discard, resp.Body)
		return nil, err
	}
	c := &caller{
		call: func(ctx context.Context) error { _, err := do(ctx, false); return err },
		check: func(ctx context.Context) error {
			b, err := do(ctx, true)
			if err != nil {
				return err
			}
			return check(b)
		},
		close: closeFn,
	}
	return &httpCaller{caller: c, client: client}, nil
}

// rpcHTTPCaller POSTs a binary RPC body (gRPC-Web or Connect) to GetItem.
func rpcHTTPCaller(addr, contentType string, hdr http.Header, body []byte, check func([]byte) error) (*caller, error) {
	c, err := restCaller(addr, http.MethodPost, "/portico.bench.v1.BenchService/GetItem", body, check)
	if err != nil {
		return nil, err
	}
	client := c.client
	url := "http://" + addr + "/portico.bench.v1.BenchService/GetItem"
	do := func(ctx context.Context, keep bool) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", contentType)
		for k, v := range hdr {
			req.Header[k] = v
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(resp.Body)
			return nil, fmt.Errorf("status %d: %.300s", resp.StatusCode, b)
		}
		if keep {
			return io.ReadAll(resp.Body)
		}
		_, err = io.Copy(io.Discard, resp.Body)
		return nil, err
	}
	c.call = func(ctx context.Context) error { _, err := do(ctx, false); return err }
	c.check = func(ctx context.Context) error {
		b, err := do(ctx, true)
		if err != nil {
			return err
		}
		return check(b)
	}
	return c.caller, nil
}

// frame wraps a message in the 5-byte gRPC envelope.
func frame(msg []byte) []byte {
	b := make([]byte, 5+len(msg))
	binary.BigEndian.PutUint32(b[1:], uint32(len(msg)))
	copy(b[5:], msg)
	return b
}

// checkGRPCWebItem parses a gRPC-Web reply: one data frame with the item,
// then a trailer frame with grpc-status 0.
func checkGRPCWebItem(body []byte) error {
	var item *benchv1.Item
	status := ""
	for len(body) > 0 {
		if len(body) < 5 {
			return fmt.Errorf("truncated frame")
		}
		flags, n := body[0], binary.BigEndian.Uint32(body[1:5])
		if uint32(len(body)-5) < n {
			return fmt.Errorf("truncated frame")
		}
		data := body[5 : 5+n]
		body = body[5+n:]
		if flags&0x80 != 0 {
			for _, line := range strings.Split(string(data), "\r\n") {
				k, v, _ := strings.Cut(line, ":")
				if strings.EqualFold(strings.TrimSpace(k), "grpc-status") {
					status = strings.TrimSpace(v)
				}
			}
			continue
		}
		item = new(benchv1.Item)
		if err := proto.Unmarshal(data, item); err != nil {
			return err
		}
	}
	if status != "0" {
		return fmt.Errorf("grpc-status %q", status)
	}
	if item == nil {
		return fmt.Errorf("no message")
	}
	return equal(item, smallItem("item-42"))
}
