package lifecycle

import (
	"testing"
	"time"

	"github.com/herald-sse/herald"
)

func i64(v int64) *int64   { return &v }
func str(s string) *string { return &s }

func TestTaskTransitions(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	base, evs, err := NewTask("t1", "d", "AK", "SK", 10, str("start"), now)
	if err != nil || len(evs) != 1 || evs[0].Name != "task_updated" ||
		string(evs[0].Data) != `{"task_id":"t1","current_progress":0,"total_progress":10,"message":"start"}` {
		t.Fatalf("create: %v %s", err, evs)
	}
	if _, _, err := NewTask("t", "d", "a", "a", -1, nil, now); herald.ErrorCode(err) != herald.EInvalid {
		t.Fatal("negative total accepted")
	}
	running := base
	running.Current = 5
	done := base
	done.Status, done.FinishedAt = TaskDone, now
	tests := []struct {
		name  string
		from  Task
		r     TaskReport
		code  herald.Code // 0 = accepted
		event string
		data  string
	}{
		{"progress", base, TaskReport{Kind: "progress", Current: i64(3)}, 0, "task_updated", `{"task_id":"t1","current_progress":3,"total_progress":10,"message":"start"}`},
		{"progress to total", base, TaskReport{Kind: "progress", Current: i64(10), Message: str("m")}, 0, "task_updated", `{"task_id":"t1","current_progress":10,"total_progress":10,"message":"m"}`},
		{"same progress", running, TaskReport{Kind: "progress", Current: i64(5)}, 0, "task_updated", ""},
		{"new total", running, TaskReport{Kind: "progress", Current: i64(20), Total: i64(40)}, 0, "task_updated", `{"task_id":"t1","current_progress":20,"total_progress":40,"message":"start"}`},
		{"unknown total", running, TaskReport{Kind: "progress", Current: i64(99), Total: i64(0)}, 0, "task_updated", ""},
		{"backwards", running, TaskReport{Kind: "progress", Current: i64(4)}, herald.EConflict, "", ""},
		{"over total", running, TaskReport{Kind: "progress", Current: i64(11)}, herald.EConflict, "", ""},
		{"total below current", running, TaskReport{Kind: "progress", Current: i64(5), Total: i64(4)}, herald.EConflict, "", ""},
		{"negative", base, TaskReport{Kind: "progress", Current: i64(-1)}, herald.EInvalid, "", ""},
		{"negative total", base, TaskReport{Kind: "progress", Current: i64(0), Total: i64(-5)}, herald.EInvalid, "", ""},
		{"missing current", base, TaskReport{Kind: "progress"}, herald.EInvalid, "", ""},
		{"done", running, TaskReport{Kind: "done"}, 0, "task_done", `{"task_id":"t1","current_progress":5,"total_progress":10,"message":"start"}`},
		{"fail", running, TaskReport{Kind: "fail", Message: str("boom")}, 0, "task_failed", `{"task_id":"t1","current_progress":5,"total_progress":10,"message":"boom"}`},
		{"cancel", running, TaskReport{Kind: "cancel"}, 0, "task_cancelled", ""},
		{"unknown kind", running, TaskReport{Kind: "pause"}, herald.EInvalid, "", ""},
		{"progress after done", done, TaskReport{Kind: "progress", Current: i64(10)}, herald.EConflict, "", ""},
		{"done after done", done, TaskReport{Kind: "done"}, herald.EConflict, "", ""},
		{"fail after done", done, TaskReport{Kind: "fail"}, herald.EConflict, "", ""},
		{"cancel after done", done, TaskReport{Kind: "cancel"}, herald.EConflict, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			next, evs, err := tc.from.Apply(tc.r, now.Add(time.Second))
			if tc.code != 0 {
				if herald.ErrorCode(err) != tc.code || evs != nil {
					t.Fatalf("want code %d, got %v %v", tc.code, err, evs)
				}
				return
			}
			if err != nil || len(evs) != 1 || evs[0].Name != tc.event {
				t.Fatalf("got %v %v", err, evs)
			}
			if tc.data != "" && string(evs[0].Data) != tc.data {
				t.Fatalf("data %s", evs[0].Data)
			}
			if next.Finished() != (tc.event != "task_updated") {
				t.Fatalf("finished=%v after %s", next.Finished(), tc.event)
			}
		})
	}
}
