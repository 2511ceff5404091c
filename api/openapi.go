package api

import (
	_ "embed"
	"net/http"
)

// openapiDoc is the OpenAPI 3.1 description of every route (openapi.json
// beside this file), embedded so the binary serves it as it was built.
//
//go:embed openapi.json
var openapiDoc []byte

// OpenAPI returns a copy of the embedded OpenAPI 3.1 document.
func OpenAPI() []byte { return append([]byte(nil), openapiDoc...) }

// openapi: GET /openapi.json — the OpenAPI document, no credentials needed.
func (a *API) openapi(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-cache")
	_, _ = w.Write(openapiDoc)
}
