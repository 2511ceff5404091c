package api

import (
	"net/http"
	"slices"
	"strings"

	"github.com/herald-sse/herald"
)

// routeMethods are the methods a path is probed with to build Allow.
var routeMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// allowedMethods lists the methods with which a route takes r's path
// (GET routes take HEAD too); none when no route does. It asks the
// router itself, so it cannot drift from the registered routes.
func (a *API) allowedMethods(r *http.Request) []string {
	var out []string
	probe := *r
	for _, m := range routeMethods {
		probe.Method = m
		if _, pattern := a.mux.Handler(&probe); pattern != "" && pattern != "/" {
			out = append(out, m)
		}
	}
	return out
}

// methodNotAllowed answers 405 problem+json with an Allow header when r's
// path has routes for other methods than r's, and reports whether it did.
// (net/http's ServeMux would answer 405 itself, but herald's catch-all
// route for 404s takes every method first.)
func (a *API) methodNotAllowed(w http.ResponseWriter, r *http.Request) bool {
	allow := a.allowedMethods(r)
	if len(allow) == 0 || slices.Contains(allow, r.Method) {
		// No route, or a route of r's own method that found nothing
		// there (a missing file under /ui/): a 404, not a 405.
		return false
	}
	list := strings.Join(allow, ", ")
	w.Header().Set("Allow", list)
	a.writeError(w, r, herald.Errorf(herald.EMethodNotAllowed, "%s is not allowed on %s; allowed: %s", r.Method, truncate(r.URL.Path, 200), list))
	return true
}
