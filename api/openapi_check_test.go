package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/herald-sse/herald/api"
	"github.com/herald-sse/herald/internal/testutil"
)

// sseEventsExt is the extension of a text/event-stream answer that lists
// its events: name, aliases, whether they carry an id, and their data schema.
const sseEventsExt = "x-sse-events"

// streamTimeout bounds every recorded stream: a feed that does not send
// what the scenario waits for fails the test instead of hanging it.
const streamTimeout = 15 * time.Second

var eventIDPattern = regexp.MustCompile(`^[a-z0-9]+-[0-9]+(\.[0-9]+)?$`)

// docChecker sends real requests to a running server and checks each
// answer against the OpenAPI document the server serves: the operation
// must exist, the request must be as valid (or invalid) for the document as
// the scenario says, and the status, headers and body — every SSE event's
// name, id and data included — must match the document.
type docChecker struct {
	t      *testing.T
	srv    *testutil.Server
	doc    *openapi3.T
	router routers.Router
	hc     *http.Client
	seen   map[string]bool // operationId → an answer was checked
}

// request is one recorded call.
type request struct {
	method, path string
	token        string       // bearer token; "" for none
	cookie       *http.Cookie // login cookie
	header       map[string]string
	body         any // JSON-encoded; a string or []byte is sent as is
	want         int
	// invalid marks a request that breaks the document (an unknown body
	// member, a missing required one, a wrong type): the document must
	// refuse it as the server does.
	invalid bool
}

// answer is a checked response.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// frame is one SSE event as it was on the wire.
type frame struct {
	name, id, data string
	hasID          bool
}

func newDocChecker(t *testing.T, srv *testutil.Server) *docChecker {
	t.Helper()
	resp, err := http.Get(srv.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /openapi.json: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if !bytes.Equal(body, api.OpenAPI()) {
		t.Fatal("GET /openapi.json does not serve the embedded document")
	}
	doc, err := openapi3.NewLoader().LoadFromData(body)
	if err != nil {
		t.Fatalf("load openapi.json: %v", err)
	}
	if doc.OpenAPI != "3.1.0" || !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi.json is OpenAPI %q, want 3.1.0", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI 3.1 document: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: srv.URL}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &docChecker{t: t, srv: srv, doc: doc, router: router, hc: &http.Client{}, seen: map[string]bool{}}
}

func (c *docChecker) newRequest(ctx context.Context, q request) *http.Request {
	c.t.Helper()
	var body []byte
	switch b := q.body.(type) {
	case nil:
	case string:
		body = []byte(b)
	case []byte:
		body = b
	default:
		var err error
		if body, err = json.Marshal(b); err != nil {
			c.t.Fatal(err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, q.method, c.srv.URL+q.path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if q.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if q.token != "" {
		req.Header.Set("Authorization", "Bearer "+q.token)
	}
	if q.cookie != nil {
		req.AddCookie(q.cookie)
	}
	for k, v := range q.header {
		req.Header.Set(k, v)
	}
	return req
}

var validationOptions = &openapi3filter.Options{
	AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
	IncludeResponseStatus: true,
}

// send checks q against the document, sends it and checks the answer's
// status and headers; it returns the open response and its route.
func (c *docChecker) send(ctx context.Context, q request) (*http.Response, *openapi3filter.RequestValidationInput) {
	c.t.Helper()
	probe := c.newRequest(ctx, q)
	route, params, err := c.router.FindRoute(probe)
	if err != nil {
		c.t.Fatalf("%s %s: not in the document: %v", q.method, q.path, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: probe, PathParams: params, Route: route, Options: validationOptions}
	err = openapi3filter.ValidateRequest(ctx, in)
	switch {
	case q.invalid && err == nil:
		c.t.Errorf("%s %s: the server refuses this request but the document accepts it", q.method, q.path)
	case !q.invalid && err != nil:
		c.t.Errorf("%s %s: the document refuses a request the server takes: %s", q.method, q.path, firstLine(err))
	}
	req := c.newRequest(ctx, q)
	in.Request = req
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", q.method, q.path, err)
	}
	if resp.StatusCode != q.want {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		c.t.Fatalf("%s %s: status %d, want %d: %s", q.method, q.path, resp.StatusCode, q.want, b)
	}
	c.seen[route.Operation.OperationID] = true
	return resp, in
}

// do records one request/answer and checks the whole answer.
func (c *docChecker) do(q request) answer {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), streamTimeout)
	defer cancel()
	resp, in := c.send(ctx, q)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: reading the answer: %v", q.method, q.path, err)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode,
		Header: resp.Header, Options: validationOptions}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		c.t.Errorf("%s %s: the %d answer does not match the document: %s\nbody: %s", q.method, q.path, resp.StatusCode, firstLine(err), body)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: body}
}

// stream records an SSE answer: its status and headers are checked like
// any other, then every event against the operation's x-sse-events. open
// runs once the headers arrived; each calls for every event and returns
// true to stop reading (else the stream is read until the server ends it).
func (c *docChecker) stream(q request, open func(), each func(frame) bool) []frame {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), streamTimeout)
	defer cancel()
	resp, in := c.send(ctx, q)
	defer resp.Body.Close()
	opts := *validationOptions
	opts.ExcludeResponseBody = true
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode,
		Header: resp.Header, Options: &opts}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		c.t.Errorf("%s %s: the stream's headers do not match the document: %s", q.method, q.path, firstLine(err))
	}
	events := c.sseEvents(in.Route.Operation, resp.StatusCode)
	if open != nil {
		open()
	}
	var got []frame
	err := readFrames(bufio.NewReader(resp.Body), func(f frame) bool {
		got = append(got, f)
		c.checkEvent(q, events, f)
		return each != nil && each(f)
	})
	if err != nil && !errors.Is(err, io.EOF) {
		c.t.Fatalf("%s %s: stream ended by %v after %d events", q.method, q.path, err, len(got))
	}
	return got
}

// sseEvent is one entry of x-sse-events.
type sseEvent struct {
	Name    string            `json:"name"`
	Aliases []string          `json:"aliases"`
	ID      bool              `json:"id"`
	Data    map[string]string `json:"data"`
}

func (c *docChecker) sseEvents(op *openapi3.Operation, status int) []sseEvent {
	c.t.Helper()
	r := op.Responses.Status(status)
	if r == nil || r.Value == nil {
		c.t.Fatalf("operation %s has no %d answer", op.OperationID, status)
	}
	mt := r.Value.Content.Get("text/event-stream")
	if mt == nil {
		c.t.Fatalf("operation %s: its %d answer is not text/event-stream", op.OperationID, status)
	}
	raw, err := json.Marshal(mt.Extensions[sseEventsExt])
	var out []sseEvent
	if err == nil {
		err = json.Unmarshal(raw, &out)
	}
	if err != nil || len(out) == 0 {
		c.t.Fatalf("operation %s: no %s: %v", op.OperationID, sseEventsExt, err)
	}
	return out
}

// checkEvent checks one event's name, id and data against the document.
func (c *docChecker) checkEvent(q request, events []sseEvent, f frame) {
	c.t.Helper()
	i := slices.IndexFunc(events, func(e sseEvent) bool { return e.Name == f.name || slices.Contains(e.Aliases, f.name) })
	if i < 0 {
		c.t.Errorf("%s: event %q is not in the document", q.path, f.name)
		return
	}
	e := events[i]
	switch {
	case e.ID && (!f.hasID || !eventIDPattern.MatchString(f.id)):
		c.t.Errorf("%s: event %s has id %q (present %v); the document says it carries an id", q.path, f.name, f.id, f.hasID)
	case !e.ID && f.hasID:
		c.t.Errorf("%s: event %s has an id line; the document says it has none", q.path, f.name)
	}
	name := strings.TrimPrefix(e.Data["$ref"], "#/components/schemas/")
	sr := c.doc.Components.Schemas[name]
	if sr == nil || sr.Value == nil {
		c.t.Fatalf("event %s: no schema %q", e.Name, e.Data["$ref"])
	}
	var v any
	if err := json.Unmarshal([]byte(f.data), &v); err != nil {
		c.t.Errorf("%s: event %s data is not JSON: %q", q.path, f.name, f.data)
		return
	}
	if err := c.doc.ValidateSchemaJSON(sr.Value, v, openapi3.EnableJSONSchema2020()); err != nil {
		c.t.Errorf("%s: event %s data %s does not match %s: %s", q.path, f.name, f.data, name, firstLine(err))
	}
}

// readFrames reads SSE events as they are on the wire (comments skipped)
// and calls fn for each until it returns true or the stream ends.
func readFrames(r *bufio.Reader, fn func(frame) bool) error {
	var f frame
	var data []string
	started := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if started {
				f.data = strings.Join(data, "\n")
				if fn(f) {
					return nil
				}
			}
			f, data, started = frame{}, nil, false
		case strings.HasPrefix(line, ":"):
		default:
			name, val, _ := strings.Cut(line, ":")
			val = strings.TrimPrefix(val, " ")
			started = true
			switch name {
			case "event":
				f.name = val
			case "id":
				f.id, f.hasID = val, true
			case "data":
				data = append(data, val)
			}
		}
	}
}

// unchecked lists the documented operations no recorded answer checked.
func (c *docChecker) unchecked() []string {
	var out []string
	for _, item := range c.doc.Paths.Map() {
		for _, op := range item.Operations() {
			if !c.seen[op.OperationID] {
				out = append(out, op.OperationID)
			}
		}
	}
	slices.Sort(out)
	return out
}

// firstLine is an error's first line: kin-openapi appends the whole schema.
func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
