package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
)

// Ingest kinds: what each write is.
const (
	IngestSessions = "session" // a session lifecycle report (POST /v1/sessions/events)
	IngestTasks    = "task"    // a background task's progress (POST /v1/tasks/{id}/progress)
)

// taskWrites are ingest writers that each create a background task and
// then report its progress, one step per write. The check afterwards reads
// every task back: its stored current_progress must be the last step that
// was acknowledged.
type taskWrites struct {
	t    *heraldTarget
	mu   sync.Mutex
	pubs []*taskPublisher
}

func (w *taskWrites) usage() usage { return w.t.usage() }

func (w *taskWrites) publisher(i int) publisher {
	token, err := w.t.serviceKey(i)
	p := &taskPublisher{h: newRawHTTP(w.t.d, w.t.host, token, i), err: err, idx: uint64(i)}
	w.mu.Lock()
	w.pubs = append(w.pubs, p)
	w.mu.Unlock()
	return p
}

// taskPublisher reports the progress of one task of its own.
type taskPublisher struct {
	h    *rawHTTP
	idx  uint64
	id   string // the task, made by the first publish
	path string // /v1/tasks/{id}/progress
	step uint64 // steps acknowledged
	body []byte
	err  error
}

func (p *taskPublisher) publish(sentNs int64) (uint64, error) {
	if p.err != nil {
		return 0, p.err
	}
	if p.id == "" {
		st, resp, err := p.h.do("POST", "/v1/tasks", "application/json", []byte(`{}`))
		if err != nil {
			return 0, err
		}
		if st != 201 {
			return 0, fmt.Errorf("POST /v1/tasks: %d %s", st, bytes.TrimSpace(resp))
		}
		var t struct {
			ID string `json:"task_id"`
		}
		if err := json.Unmarshal(resp, &t); err != nil || t.ID == "" {
			return 0, fmt.Errorf("POST /v1/tasks: no task_id in %s", resp)
		}
		p.id, p.path = t.ID, "/v1/tasks/"+t.ID+"/progress"
	}
	b := p.body[:0]
	b = append(b, `{"current_progress":`...)
	b = strconv.AppendUint(b, p.step+1, 10)
	b = append(b, `,"total_progress":1000000000,"message":"`...)
	b = strconv.AppendInt(b, sentNs, 10)
	b = append(b, `"}`...)
	p.body = b
	st, resp, err := p.h.do("POST", p.path, "application/json", b)
	if err != nil {
		return 0, err
	}
	if st != 200 {
		return 0, fmt.Errorf("POST %s: %d %s", p.path, st, bytes.TrimSpace(resp))
	}
	p.step++
	return p.idx<<40 | p.step, nil
}

func (p *taskPublisher) close() { p.h.Close() }

// check reads every task back and returns how many acknowledged steps
// its stored progress lacks (0 when every acknowledged write is stored),
// and how many tasks store a step beyond the acknowledged ones.
func (w *taskWrites) check(ctx context.Context) (missing, beyond uint64, err error) {
	for _, p := range w.pubs {
		if p.id == "" {
			continue
		}
		var t struct {
			Current uint64 `json:"current_progress"`
		}
		if err := apiCall(ctx, w.t.base, w.t.super, "GET", "/v1/tasks/"+p.id, nil, &t); err != nil {
			return 0, 0, err
		}
		switch {
		case t.Current < p.step:
			missing += p.step - t.Current
		case t.Current > p.step:
			beyond++
		}
	}
	return missing, beyond, nil
}
