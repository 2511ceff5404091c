package views

import "time"

// StaleTasks lists (at most limit of) the unfinished tasks whose last
// report is older than cutoff: their producer went silent.
func (v *Views) StaleTasks(cutoff time.Time, limit int) []string {
	v.mu.RLock()
	defer v.mu.RUnlock()
	var out []string
	for id, e := range v.tasks {
		if len(out) == limit {
			break
		}
		if !e.Task.Finished() && e.Task.UpdatedAt.Before(cutoff) {
			out = append(out, id)
		}
	}
	return out
}
