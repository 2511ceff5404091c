package api

// PLACEHOLDER so the tree compiles while push jobs are written (issue 4):
// delete this file when the real pushyRoutes, pushyTimers,
// prepareJobDelivery, pushyTopics and hasDeliverables exist.

import (
	"context"
	"net/http"

	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/store"
)

func (a *API) pushyRoutes(m *http.ServeMux)       {}
func (a *API) pushyTimers(ctx context.Context)    {}
func (a *API) prepareJobDelivery(d *hub.Delivery) {}
func pushyTopics(r *store.Record) []string        { return nil }
func hasDeliverables(r *store.Record) bool        { return len(r.Events) > 0 }
