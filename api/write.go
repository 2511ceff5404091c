package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/store"
)

// change is one decided transition: what to append and what to answer.
type change struct {
	app    store.Append
	status int  // HTTP status of the answer
	withID bool // the answer's "id" is the id of the transition's first event
	stored any  // when set, what a retry gets instead of the answer (no secrets)
}

// answer is what a write returns (and what a retry with the same
// Idempotency-Key returns again).
type answer struct {
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body"`
	WithID bool            `json:"withId,omitempty"`
	seq    uint64          // the record the write appended (or the retry found)
}

// eventID is the id of the first event of the write's record.
func (a *API) eventID(ans answer) string {
	return herald.ID{Epoch: a.store.Epoch(), Seq: ans.seq}.String()
}

// final fills in the event id of an answer that asked for it.
func (a *API) final(ans answer, seq uint64) answer {
	ans.seq = seq
	if !ans.WithID {
		return ans
	}
	id := herald.ID{Epoch: a.store.Epoch(), Seq: seq}.String()
	if b, ok := insertID(ans.Body, id); ok {
		ans.Body, ans.WithID = b, false
		return ans
	}
	var body map[string]any
	if err := json.Unmarshal(ans.Body, &body); err != nil || body == nil {
		body = map[string]any{}
	}
	body["id"] = id
	ans.Body, _ = json.Marshal(body)
	ans.WithID = false
	return ans
}

// insertID adds "id" to a flat JSON object of plain strings whose members
// are in order and all sort after "id" (a session report's {"state":…}):
// the bytes final's map round trip would write, without it. Any other body
// reports false.
func insertID(body []byte, id string) ([]byte, bool) {
	if !plainJSON(id) {
		return nil, false
	}
	last := "id"
	i := 1
	if len(body) < 2 || body[0] != '{' {
		return nil, false
	}
	if string(body) != "{}" {
		for {
			name, j, ok := plainString(body, i)
			if !ok || string(name) <= last || !plainJSON(string(name)) || j >= len(body) || body[j] != ':' {
				return nil, false
			}
			val, j, ok := plainString(body, j+1)
			if !ok || !plainJSON(string(val)) || j >= len(body) {
				return nil, false
			}
			last = string(name)
			if body[j] == '}' && j == len(body)-1 {
				break
			}
			if body[j] != ',' {
				return nil, false
			}
			i = j + 1
		}
	}
	out := make([]byte, 0, len(body)+len(id)+8)
	out = append(out, `{"id":"`...)
	out = append(out, id...)
	out = append(out, '"')
	if string(body) != "{}" {
		out = append(out, ',')
		out = append(out, body[1:]...)
	} else {
		out = append(out, '}')
	}
	return out, true
}

// jsonAppender is an answer body that encodes itself as json.Marshal would,
// without reflection.
type jsonAppender interface {
	appendJSON(dst []byte) []byte
}

func marshalBody(v any) ([]byte, error) {
	if ja, ok := v.(jsonAppender); ok {
		return ja.appendJSON(make([]byte, 0, 64)), nil
	}
	return json.Marshal(v)
}

// plainJSON reports whether encoding/json writes s inside quotes unchanged.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// appendJSONString appends s encoded as json.Marshal encodes a string.
func appendJSONString(dst []byte, s string) []byte {
	if !plainJSON(s) {
		b, _ := json.Marshal(s)
		return append(dst, b...)
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// appendStored encodes the answer as json.Marshal does: its body is
// json.Marshal's (or an appendJSON's) output, compact and escaped already.
func (ans *answer) appendStored(dst []byte) []byte {
	dst = append(dst, `{"status":`...)
	dst = strconv.AppendInt(dst, int64(ans.Status), 10)
	dst = append(dst, `,"body":`...)
	if ans.Body == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, ans.Body...)
	}
	if ans.WithID {
		dst = append(dst, `,"withId":true`...)
	}
	return append(dst, '}')
}

const maxAttempts = 16

// commit runs decide until its change is appended without conflict and
// returns the answer. decide reads the views; on a concurrency conflict the
// views are brought up to the store's head and decide runs again. With an
// Idempotency-Key, a write already made with it is answered from the store
// and nothing new is appended.
func (a *API) commit(ctx context.Context, r *http.Request, k *auth.Key, decide func() (change, any, error)) (answer, error) {
	msgID := ""
	if key := r.Header.Get("Idempotency-Key"); key != "" {
		if len(key) > 255 {
			return answer{}, herald.FieldErrorf("Idempotency-Key", "must be at most 255 characters")
		}
		msgID = idempotencyID(k.AccessKey, r.Method, r.URL.Path, key)
	}
	synced := false
	for attempt := 0; attempt < maxAttempts; attempt++ {
		if msgID != "" {
			if seq, ok := a.views.Idempotent(msgID); ok {
				return a.answerAt(ctx, seq)
			}
		}
		ch, body, err := decide()
		if err != nil {
			// A refusal may come from views behind a write made through
			// another node (404: not there yet; 409: an older state):
			// catch up once (bounded, barrier.go) and decide again.
			if code := herald.ErrorCode(err); msgID == "" && !synced && (code == herald.ENotFound || code == herald.EConflict) {
				synced = true
				a.catchUp(ctx)
				continue
			}
			// It may be the retry of a write this process has not seen
			// yet: catch up once and look again.
			if msgID != "" && !synced {
				synced = true
				if serr := a.sync(ctx); serr != nil {
					return answer{}, serr
				}
				continue
			}
			return answer{}, err
		}
		b, err := marshalBody(body)
		if err != nil {
			return answer{}, err
		}
		ans := answer{Status: ch.status, Body: b, WithID: ch.withID}
		ch.app.MsgID = msgID
		stored := ans
		if ch.stored != nil && msgID != "" {
			stored.Body, _ = marshalBody(ch.stored)
		}
		if msgID != "" {
			// Only a retry with the same Idempotency-Key reads it back.
			ch.app.Record.Answer = stored.appendStored(make([]byte, 0, len(stored.Body)+40))
		}
		start := time.Now()
		ack, err := a.store.Commit(ctx, ch.app)
		a.metrics.storeLatency.Observe(time.Since(start).Seconds())
		if errors.Is(err, store.ErrConflict) {
			synced = true
			if serr := a.sync(ctx); serr != nil {
				return answer{}, serr
			}
			continue
		}
		if errors.Is(err, store.ErrTooLarge) {
			return answer{}, herald.Errorf(herald.ETooLarge, "the write would store a record of more than %d bytes; send less", store.MaxRecordBytes)
		}
		if err != nil {
			return answer{}, unavailable(err)
		}
		if err := a.views.WaitFor(ctx, ack.Seq); err != nil {
			return answer{}, unavailable(err)
		}
		applied := time.Now()
		a.metrics.writeLatency.Observe(applied.Sub(start).Seconds())
		if ack.Duplicate {
			return a.answerAt(ctx, ack.Seq)
		}
		if k != nil && k.AccessKey != "" {
			a.keyTurn(ctx, k.AccessKey, ack.Seq)
			a.metrics.writeHeld.Observe(time.Since(applied).Seconds())
		}
		a.metrics.appended.Add(float64(len(ch.app.Record.Events)))
		return a.final(ans, ack.Seq), nil
	}
	return answer{}, herald.Errorf(herald.EUnavailable, "too many concurrent writes to the same entity; retry")
}

// idempotencyID is the store's message id of a write made with an
// Idempotency-Key: scoped by the caller's access key, the method and the
// path (which names the entity), so the same key sent to another route, or
// by another caller, is a different write (issue 12).
func idempotencyID(accessKey, method, path, key string) string {
	h := sha256.New()
	for _, part := range [...]string{accessKey, method, path, key} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16])
}

// sync waits until the views applied everything the store holds now.
func (a *API) sync(ctx context.Context) error {
	_, last, _, err := a.store.Info(ctx)
	if err != nil {
		return unavailable(err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := a.views.WaitFor(ctx, last); err != nil {
		return unavailable(err)
	}
	return nil
}

func (a *API) answerAt(ctx context.Context, seq uint64) (answer, error) {
	m, err := a.store.Get(ctx, seq)
	if err != nil {
		return answer{}, unavailable(err)
	}
	var ans answer
	if err := json.Unmarshal(m.Record.Answer, &ans); err != nil || ans.Status == 0 {
		return answer{}, fmt.Errorf("record %d has no answer to replay", seq)
	}
	return a.final(ans, seq), nil
}

// reply writes the outcome of a write: its answer, or err as problem+json.
func (a *API) reply(w http.ResponseWriter, r *http.Request, ans answer, err error) {
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeAnswer(w, ans)
}

// writeAnswer sends a commit's answer.
func writeAnswer(w http.ResponseWriter, ans answer) {
	if ans.Status == http.StatusNoContent {
		w.WriteHeader(ans.Status)
		return
	}
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = noStore
	w.WriteHeader(ans.Status)
	_, _ = w.Write(ans.Body)
	_, _ = w.Write(newline)
}

// Shared header values and bytes of writeAnswer (never modified: Header.Set
// replaces a value, Header.Add appends to a full slice, so copies it).
var (
	jsonContentType = []string{"application/json"}
	noStore         = []string{"no-store"}
	newline         = []byte("\n")
)
