package api

// WriteWindow is writeWindow, for tests.
const WriteWindow = writeWindow

// SetFanHook makes the fan-out call f with each record's sequence before
// dispatching it (tests hold the fan-out with it); nil removes it.
func SetFanHook(a *API, f func(seq uint64)) {
	if f == nil {
		a.fanHook.Store(nil)
		return
	}
	a.fanHook.Store(&f)
}

// Applied is the last store sequence the views applied.
func Applied(a *API) uint64 { return a.views.Applied() }
