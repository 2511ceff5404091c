package api

import (
	"errors"
	"net/http"

	"github.com/herald-sse/herald/dashboard"
)

var errPanic = errors.New("panic")

func (a *API) routes() {
	m := http.NewServeMux()
	a.mux = m
	m.HandleFunc("GET /healthz", a.healthz)
	m.HandleFunc("GET /readyz", a.readyz)
	m.Handle("GET /metrics", a.metrics.handler())
	m.HandleFunc("GET /openapi.json", a.openapi)

	m.HandleFunc("POST /v1/login", a.limitLogins(a.login))
	m.HandleFunc("POST /v1/logout", a.logout)

	m.HandleFunc("POST /v1/admin/domains", a.authed(a.createDomain))
	m.HandleFunc("GET /v1/admin/domains", a.authed(a.listDomains))
	m.HandleFunc("POST /v1/admin/domains/{domain}/groups", a.authed(a.createGroup))
	m.HandleFunc("GET /v1/admin/domains/{domain}/groups", a.authed(a.listGroups))
	m.HandleFunc("POST /v1/admin/keys", a.authed(a.createKey))
	m.HandleFunc("GET /v1/admin/keys", a.authed(a.listKeys))
	m.HandleFunc("DELETE /v1/admin/keys/{accessKey}", a.authed(a.deleteKey))

	m.HandleFunc("POST /v1/tasks", a.authed(a.createTask))
	m.HandleFunc("POST /v1/tasks/{id}/{report}", a.authed(a.reportTask))
	m.HandleFunc("GET /v1/tasks/{id}", a.authed(a.getTask))
	m.HandleFunc("GET /events/background-task", a.feed(a.taskFeed))

	m.HandleFunc("POST /v1/sessions/events", a.authed(a.reportSession))
	m.HandleFunc("GET /v1/sessions", a.authed(a.listSessions))
	m.HandleFunc("GET /v1/sessions/{ownerAccessKey}/{sessionId}", a.authed(a.getSession))
	m.HandleFunc("GET /events/session", a.feed(a.sessionFeed))

	a.pushyRoutes(m)

	m.Handle("GET /{$}", dashboard.Handler(a.notFound)) // the dashboard page and its files (dashboard/)
	m.Handle("GET /ui/", dashboard.Handler(a.notFound))

	m.HandleFunc("/", a.notFound)
}

// notFound answers what no route takes: 405 with Allow when the path
// exists with other methods (methods.go), else 404.
func (a *API) notFound(w http.ResponseWriter, r *http.Request) {
	if a.methodNotAllowed(w, r) {
		return
	}
	a.writeError(w, r, notFoundf("no such endpoint: %s %s", r.Method, r.URL.Path))
}
