package api

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// catchAllPattern is the router's not-found handler: not an endpoint.
const catchAllPattern = "/"

// minRoutes guards the source scan: fewer patterns than this means the
// scan missed the registrations, not that the API shrank.
const minRoutes = 30

// registeredPatterns reads the non-test Go files of this package and
// returns every pattern passed to a ServeMux's HandleFunc or Handle, as the
// router sees it: string literals, constants and range variables over
// string-slice literals are evaluated, so
//
//	for _, feed := range []string{"a", "b"} { m.HandleFunc("GET "+p+"/"+feed, …) }
//
// yields both patterns. A pattern it cannot evaluate fails the test, so a
// new way of registering routes cannot slip past unseen.
func registeredPatterns(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var parsed []*ast.File
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		parsed = append(parsed, af)
	}
	// env holds every value an identifier may take: string constants and
	// range variables over string-slice literals, package-wide (the
	// registrations use distinct names).
	env := map[string][]string{}
	for _, af := range parsed {
		ast.Inspect(af, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.GenDecl:
				if n.Tok != token.CONST {
					return true
				}
				for _, spec := range n.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, name := range vs.Names {
						if i < len(vs.Values) {
							if v, err := evalStrings(vs.Values[i], env); err == nil {
								env[name.Name] = v
							}
						}
					}
				}
			case *ast.RangeStmt:
				id, ok := n.Value.(*ast.Ident)
				lit, isLit := n.X.(*ast.CompositeLit)
				if !ok || !isLit {
					return true
				}
				var vals []string
				for _, elt := range lit.Elts {
					v, err := evalStrings(elt, env)
					if err != nil {
						return true
					}
					vals = append(vals, v...)
				}
				env[id.Name] = vals
			}
			return true
		})
	}
	var out []string
	for _, af := range parsed {
		ast.Inspect(af, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) != 2 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "HandleFunc" && sel.Sel.Name != "Handle") {
				return true
			}
			vals, err := evalStrings(call.Args[0], env)
			if err != nil {
				t.Errorf("%s: cannot read the route pattern: %v", fset.Position(call.Pos()), err)
				return true
			}
			out = append(out, vals...)
			return true
		})
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// evalStrings returns every value a string expression may take.
func evalStrings(e ast.Expr, env map[string][]string) ([]string, error) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return nil, fmt.Errorf("not a string literal: %s", e.Value)
		}
		s, err := strconv.Unquote(e.Value)
		return []string{s}, err
	case *ast.ParenExpr:
		return evalStrings(e.X, env)
	case *ast.Ident:
		if v, ok := env[e.Name]; ok {
			return v, nil
		}
		return nil, fmt.Errorf("unknown identifier %s", e.Name)
	case *ast.BinaryExpr:
		if e.Op != token.ADD {
			return nil, fmt.Errorf("operator %s", e.Op)
		}
		l, err := evalStrings(e.X, env)
		if err != nil {
			return nil, err
		}
		r, err := evalStrings(e.Y, env)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, a := range l {
			for _, b := range r {
				out = append(out, a+b)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported expression %T", e)
}

// documentedOperations returns "METHOD /path" for every operation of the
// embedded OpenAPI document.
func documentedOperations(t *testing.T, doc []byte) []string {
	t.Helper()
	var d struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	methods := []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}
	var out []string
	for path, item := range d.Paths {
		for m := range item {
			if slices.Contains(methods, m) {
				out = append(out, strings.ToUpper(m)+" "+path)
			}
		}
	}
	slices.Sort(out)
	return out
}

var pathParam = regexp.MustCompile(`\{[^}/]+\}`)

// TestOpenAPICoversRoutes: every route the router registers is in the
// OpenAPI document and every documented operation reaches a registered
// route of the same method. Each documented operation is turned into a
// request (path parameters filled in) and handed to the real router, which
// names the pattern it would serve it with.
func TestOpenAPICoversRoutes(t *testing.T) {
	routes := registeredPatterns(t)
	if len(routes) < minRoutes {
		t.Fatalf("found only %d route patterns in the source: %v", len(routes), routes)
	}
	a := New(Config{}, nil, nil)
	ops := documentedOperations(t, openapiDoc)
	reached := map[string][]string{}
	for _, op := range ops {
		method, path, _ := strings.Cut(op, " ")
		concrete := pathParam.ReplaceAllString(path, "p1")
		req := httptest.NewRequest(method, concrete, nil)
		_, pattern := a.mux.Handler(req)
		if pattern == "" || pattern == catchAllPattern {
			t.Errorf("documented %s reaches no route (router pattern %q)", op, pattern)
			continue
		}
		if !strings.HasPrefix(pattern, method+" ") {
			t.Errorf("documented %s is served by %q: another method", op, pattern)
			continue
		}
		if !slices.Contains(routes, pattern) {
			t.Errorf("documented %s is served by %q, which the source scan did not find", op, pattern)
		}
		reached[pattern] = append(reached[pattern], op)
	}
	for _, r := range routes {
		if r == catchAllPattern {
			continue
		}
		if len(reached[r]) == 0 {
			t.Errorf("route %q is registered but not in api/openapi.json", r)
		}
	}
}
