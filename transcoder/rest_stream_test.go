package transcoder_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/portico-gw/portico/internal/testbackend"
	"github.com/portico-gw/portico/transcoder"
)

// streamGet performs a streaming request with client and returns the
// response, whose body the caller reads and closes.
func streamRequest(t *testing.T, client *http.Client, method, url string, body io.Reader, header map[string]string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func readLines(t *testing.T, r io.Reader) []string {
	t.Helper()
	var lines []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

func TestRESTServerStreamNDJSON(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)
	for name, client := range map[string]*http.Client{"HTTP/1.1": http.DefaultClient, "h2c": h2cClient(t)} {
		t.Run(name, func(t *testing.T) {
			resp := streamRequest(t, client, "GET", gw.url+"/v1/stream/3?text=hi", nil, nil)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" {
				t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			lines := readLines(t, resp.Body)
			want := []string{`{"text":"hi"}`, `{"index":1,"text":"hi"}`, `{"index":2,"text":"hi"}`}
			if len(lines) != len(want) {
				t.Fatalf("lines %q, want %q", lines, want)
			}
			for i := range want {
				assertJSONEqual(t, []byte(lines[i]), want[i])
			}
			if got := resp.Trailer.Get("Grpc-Status"); got != "0" {
				t.Errorf("Grpc-Status trailer %q, want 0", got)
			}
		})
	}
}

func TestRESTServerStreamSSE(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)
	resp := streamRequest(t, h2cClient(t), "GET", gw.url+"/v1/stream/5?text=e&failAfter=2&failCode=5", nil, map[string]string{"Accept": "text/event-stream"})
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	body, _ := io.ReadAll(resp.Body)
	events := strings.Split(strings.TrimSpace(string(body)), "\n\n")
	if len(events) != 3 {
		t.Fatalf("events %q, want 2 messages and an error", events)
	}
	assertJSONEqual(t, []byte(strings.TrimPrefix(events[0], "data: ")), `{"text":"e"}`)
	assertJSONEqual(t, []byte(strings.TrimPrefix(events[1], "data: ")), `{"index":1,"text":"e"}`)
	errEvent, ok := strings.CutPrefix(events[2], "event: error\ndata: ")
	if !ok {
		t.Fatalf("last event %q is not an error event", events[2])
	}
	var st rpcStatus
	if err := json.Unmarshal([]byte(errEvent), &st); err != nil || st.Code != 5 {
		t.Errorf("error event %q: %v", errEvent, err)
	}
	if got := resp.Trailer.Get("Grpc-Status"); got != "5" {
		t.Errorf("Grpc-Status trailer %q, want 5", got)
	}
}

func TestRESTServerStreamErrors(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)

	// Before the first message: the mapped HTTP status and a Status body.
	gw.do(t, "GET", "/v1/stream/3?failCode=7", nil, nil).errorStatus(t, 403, 7)
	before := backend.Calls()
	gw.do(t, "GET", "/v1/stream/many", nil, nil).errorStatus(t, 400, 3)
	if backend.Calls() != before {
		t.Error("a bad path value reached the backend")
	}

	// After messages: in-band, as a last {"@status": …} line.
	resp := gw.do(t, "GET", "/v1/stream/3?failAfter=1&failCode=14", nil, nil)
	lines := readLines(t, bytes.NewReader(resp.body))
	if resp.status != 200 || len(lines) != 2 {
		t.Fatalf("status %d, lines %q", resp.status, lines)
	}
	var last struct {
		Status rpcStatus `json:"@status"`
	}
	if err := json.Unmarshal([]byte(lines[1]), &last); err != nil || last.Status.Code != 14 {
		t.Errorf("last line %q: %v", lines[1], err)
	}
}

func TestRESTServerStreamClientGoneCancelsBackend(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", gw.url+"/v1/stream/1000?interval=0.05s", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.Contains(line, "{") {
		t.Fatalf("first line %q: %v", line, err)
	}
	cancel()
	resp.Body.Close()
	waitFor(t, func() bool { return len(backend.Canceled()) > 0 })
	if got := backend.Canceled(); got[0] != "ServerStream" {
		t.Errorf("canceled %v", got)
	}
}

func TestRESTClientStreamNDJSON(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)
	resp := gw.do(t, "POST", "/v1/clientstream", []byte("{\"text\":\"a\"}\n\n{\"text\":\"b\"}\r\n{\"text\":\"c\"}"), map[string]string{"Content-Type": "application/x-ndjson"})
	if resp.status != 200 {
		t.Fatalf("status %d: %s", resp.status, resp.body)
	}
	assertJSONEqual(t, resp.body, `{"index":3,"text":"a,b,c"}`)

	// A malformed line fails the call with a 400 before any reply.
	gw.do(t, "POST", "/v1/clientstream", []byte("{\"text\":\"a\"}\n{oops\n"), nil).errorStatus(t, 400, 3)
}

func TestRESTBidiOverHTTP(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)
	resp := gw.do(t, "POST", "/v1/bidi", []byte("{\"text\":\"x\"}\n{\"text\":\"y\"}\n"), nil)
	lines := readLines(t, bytes.NewReader(resp.body))
	if resp.status != 200 || len(lines) != 2 {
		t.Fatalf("status %d, lines %q", resp.status, lines)
	}
	assertJSONEqual(t, []byte(lines[1]), `{"index":1,"text":"y"}`)
}

func wsDial(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, strings.Replace(url, "http://", "ws://", 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	return conn
}

func wsRead(t *testing.T, conn *websocket.Conn) (websocket.MessageType, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	typ, data, err := conn.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return typ, string(data)
}

func wsWrite(t *testing.T, conn *websocket.Conn, typ websocket.MessageType, data string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := conn.Write(ctx, typ, []byte(data)); err != nil {
		t.Fatal(err)
	}
}

// wsClosed reads until the close frame and returns its code.
func wsClosed(t *testing.T, conn *websocket.Conn) websocket.StatusCode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, err := conn.Read(ctx)
	var ce websocket.CloseError
	if !errors.As(err, &ce) {
		t.Fatalf("read after the status: %v, want a close", err)
	}
	return ce.Code
}

func TestRESTWebSocketBidi(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)
	conn := wsDial(t, gw.url+"/v1/bidi")
	// Full duplex: each reply arrives before the next request is sent.
	for i, text := range []string{"one", "two"} {
		wsWrite(t, conn, websocket.MessageText, `{"text":"`+text+`"}`)
		typ, got := wsRead(t, conn)
		if typ != websocket.MessageText {
			t.Fatalf("reply frame type %v", typ)
		}
		want := `{"text":"one"}`
		if i == 1 {
			want = `{"index":1,"text":"two"}`
		}
		assertJSONEqual(t, []byte(got), want)
	}
	wsWrite(t, conn, websocket.MessageText, "") // half-close
	_, final := wsRead(t, conn)
	assertJSONEqual(t, []byte(final), `{"@status":{"code":0,"message":"","details":[]}}`)
	if code := wsClosed(t, conn); code != websocket.StatusNormalClosure {
		t.Errorf("close code %d, want 1000", code)
	}
}

func TestRESTWebSocketServerStreamError(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)
	conn := wsDial(t, gw.url+"/v1/stream/4?text=w&failAfter=2&failCode=5")
	for i := 0; i < 2; i++ {
		if _, got := wsRead(t, conn); !strings.Contains(got, `"text":"w"`) {
			t.Fatalf("frame %d: %s", i, got)
		}
	}
	_, final := wsRead(t, conn)
	if !strings.Contains(final, `"@status":{"code":5`) {
		t.Fatalf("final frame %s", final)
	}
	if code := wsClosed(t, conn); code != 4005 {
		t.Errorf("close code %d, want 4005 (4000 + NOT_FOUND)", code)
	}
}

func TestRESTWebSocketClientStreamBinary(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)
	conn := wsDial(t, gw.url+"/v1/clientstream")
	// StreamReply{text: "bin"} in the protobuf encoding: field 2, length 3.
	wsWrite(t, conn, websocket.MessageBinary, "\x12\x03bin")
	wsWrite(t, conn, websocket.MessageText, `{"text":"json"}`)
	wsWrite(t, conn, websocket.MessageText, "")
	typ, reply := wsRead(t, conn)
	// The first frame was binary, so replies are binary: index 2, "bin,json".
	if typ != websocket.MessageBinary || reply != "\x08\x02\x12\x08bin,json" {
		t.Fatalf("reply %v %q", typ, reply)
	}
	_, final := wsRead(t, conn)
	if !strings.Contains(final, `"@status"`) {
		t.Fatalf("final frame %s", final)
	}
}

func TestRESTHttpBodyStreams(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)

	// Upload: 2.5 MiB streamed as 1 MiB HttpBody messages.
	payload := bytes.Repeat([]byte("0123456789"), 262144) // 2.5 MiB
	resp := gw.do(t, "POST", "/v1/uploadstream", payload, map[string]string{"Content-Type": "application/x-tar"})
	assertJSONEqual(t, resp.body, `{"contentType":"application/x-tar","size":"2621440","name":"3"}`)

	resp = gw.do(t, "POST", "/v1/files/report.csv?note=n1", []byte("a,b\n"), map[string]string{"Content-Type": "text/csv"})
	assertJSONEqual(t, resp.body, `{"contentType":"text/csv","size":"4","name":"report.csv|n1|1"}`)

	// Download: chunks written raw as they arrive.
	resp = gw.do(t, "GET", "/v1/downloadstream?count=3&size=4", nil, nil)
	if resp.status != 200 || resp.header.Get("Content-Type") != "application/octet-stream" || string(resp.body) != "\x00\x00\x00\x00\x01\x01\x01\x01\x02\x02\x02\x02" {
		t.Fatalf("download: %d %q %q", resp.status, resp.header.Get("Content-Type"), resp.body)
	}
}

// TestStreamIdleTimeout: the idle timeout ends a stream that goes quiet,
// but never one that keeps moving, however long it lasts.
func TestStreamIdleTimeout(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	gw := startGateway(t, "reflection", transcoder.Options{StreamIdleTimeout: 300 * time.Millisecond}, backend)

	// Messages every 50ms for about a second: longer than the timeout,
	// never idle for it.
	resp := gw.do(t, "GET", "/v1/stream/20?interval=0.05s", nil, nil)
	if lines := readLines(t, bytes.NewReader(resp.body)); len(lines) != 20 {
		t.Fatalf("a busy stream was cut: %d lines, last %q", len(lines), lines[len(lines)-1])
	}

	// A stream that goes quiet for a second after its first message.
	resp = gw.do(t, "GET", "/v1/stream/3?interval=1s", nil, nil)
	lines := readLines(t, bytes.NewReader(resp.body))
	if len(lines) != 2 || !strings.Contains(lines[1], `"@status":{"code":4`) {
		t.Fatalf("idle stream: %q, want one message then DEADLINE_EXCEEDED", lines)
	}
}

// TestSSEKeepalive: an idle SSE stream gets comment lines, which
// EventSource ignores.
func TestSSEKeepalive(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	gw := startGateway(t, "reflection", transcoder.Options{KeepaliveInterval: 50 * time.Millisecond}, backend)
	resp := gw.do(t, "GET", "/v1/stream/2?interval=0.4s&text=k", nil, map[string]string{"Accept": "text/event-stream"})
	body := string(resp.body)
	if !strings.Contains(body, ": keepalive\n\n") || strings.Count(body, "data: ") != 2 {
		t.Fatalf("body %q: want two events with keepalive comments between", body)
	}
}

// TestRESTBidiFullDuplexHTTP1: over HTTP/1.1 a bidi stream answers each
// line as it arrives, while the client is still sending.
func TestRESTBidiFullDuplexHTTP1(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)
	pr, pw := io.Pipe()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", gw.url+"/v1/bidi", pr)
	respc := make(chan *http.Response, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			respc <- nil
			return
		}
		respc <- resp
	}()
	if _, err := io.WriteString(pw, "{\"text\":\"one\"}\n"); err != nil {
		t.Fatal(err)
	}
	resp := <-respc
	if resp == nil {
		t.Fatal("no response while the request body is still open")
	}
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	line, err := rd.ReadString('\n')
	if err != nil || !strings.Contains(line, `"one"`) {
		t.Fatalf("first reply %q: %v", line, err)
	}
	io.WriteString(pw, "{\"text\":\"two\"}\n")
	if line, err = rd.ReadString('\n'); err != nil || !strings.Contains(line, `"two"`) {
		t.Fatalf("second reply %q: %v", line, err)
	}
	pw.Close()
	rest, _ := io.ReadAll(rd)
	if strings.Contains(string(rest), "@status") {
		t.Errorf("the stream ended with an error: %s", rest)
	}
}

// TestWebSocketBinaryFramesGetPathValues: a binary frame is checked and
// gets the path's values, as a JSON frame does.
func TestWebSocketBinaryFramesGetPathValues(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)
	conn := wsDial(t, gw.url+"/v1/files/report.csv?note=n")
	// UploadFieldRequest{name: "forged", file: {data: "x"}}.
	wsWrite(t, conn, websocket.MessageBinary, "\x0a\x06forged\x12\x03\x12\x01x")
	wsWrite(t, conn, websocket.MessageText, "")
	_, reply := wsRead(t, conn)
	// The reply is binary (the first frame was): UploadResponse, name is field 3.
	if !strings.Contains(reply, "report.csv|n|1") {
		t.Errorf("reply %q: want the path's name, not the frame's", reply)
	}

	bad := wsDial(t, gw.url+"/v1/clientstream")
	wsWrite(t, bad, websocket.MessageBinary, "\x12\xff") // a truncated field
	_, final := wsRead(t, bad)
	if !strings.Contains(final, `"code":3`) {
		t.Errorf("malformed binary frame: %s, want INVALID_ARGUMENT", final)
	}
}

// TestSSEKeepaliveBeforeFirstMessage: a subscription that stays quiet
// still gets its response started and pinged, so proxies do not drop it.
func TestSSEKeepaliveBeforeFirstMessage(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	gw := startGateway(t, "reflection", transcoder.Options{KeepaliveInterval: 50 * time.Millisecond}, backend)
	resp := streamRequest(t, http.DefaultClient, "GET", gw.url+"/v1/stream/1?initialDelay=0.5s&text=late", nil, map[string]string{"Accept": "text/event-stream"})
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	body, _ := io.ReadAll(resp.Body)
	if !strings.HasPrefix(string(body), ": keepalive\n\n") || !strings.Contains(string(body), `data: {"text":"late"}`) {
		t.Fatalf("body %q: want keepalives, then the message", body)
	}
}
