package queryable

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// route is one "METHOD /path" registration.
type route struct{ method, path string }

func (r route) String() string { return r.method + " " + r.path }

// registeredRoutes reads the patterns that server.go registers on the
// mux (s.mux.Handle and s.mux.HandleFunc calls with a literal pattern),
// so a new route cannot be added without this test seeing it. Patterns
// without a method (the catch-all "/") are left out.
func registeredRoutes(t *testing.T) []route {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "server.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []route
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) < 2 {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") {
			return true
		}
		lit, ok := call.Args[0].(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			t.Errorf("%s: route registered with a non-literal pattern; this test cannot read it", fset.Position(call.Pos()))
			return true
		}
		pat, _ := strconv.Unquote(lit.Value)
		method, path, ok := strings.Cut(pat, " ")
		if !ok {
			return true // no method: the catch-all
		}
		out = append(out, route{method, strings.TrimSpace(path)})
		return true
	})
	return out
}

type openAPIDocument struct {
	OpenAPI    string                                `json:"openapi"`
	Info       struct{ Title, Version string }       `json:"info"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas    map[string]json.RawMessage `json:"schemas"`
		Responses  map[string]json.RawMessage `json:"responses"`
		Parameters map[string]json.RawMessage `json:"parameters"`
	} `json:"components"`
}

type openAPIOperation struct {
	OperationID string                     `json:"operationId"`
	Parameters  []json.RawMessage          `json:"parameters"`
	Responses   map[string]json.RawMessage `json:"responses"`
}

var httpMethods = []string{"get", "put", "post", "delete", "patch", "head", "options"}

func loadOpenAPI(t *testing.T) (openAPIDocument, map[string]any) {
	t.Helper()
	b, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc openAPIDocument
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("openapi.json is not valid JSON: %v", err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	return doc, raw
}

// TestOpenAPIDocumentsEveryRoute: the document is OpenAPI 3.0.x, every
// route registered in routes() has a path and method entry, and every
// documented operation reaches a real handler (not the catch-all 404).
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	if !regexp.MustCompile(`^3\.0\.\d+$`).MatchString(doc.OpenAPI) {
		t.Fatalf("openapi is %q, want 3.0.x", doc.OpenAPI)
	}
	if doc.Info.Title == "" || doc.Info.Version == "" {
		t.Fatal("info.title and info.version are required")
	}

	routes := registeredRoutes(t)
	if len(routes) < 12 {
		t.Fatalf("found only %d routes in server.go (%v): has the registration style changed?", len(routes), routes)
	}
	for _, r := range routes {
		item, ok := doc.Paths[r.path]
		if !ok {
			t.Errorf("route %s is not documented: add path %q to openapi.json", r, r.path)
			continue
		}
		if _, ok := item[strings.ToLower(r.method)]; !ok {
			t.Errorf("route %s is not documented: add %q under path %q in openapi.json", r, strings.ToLower(r.method), r.path)
		}
	}

	// The other way round: ask the mux which pattern serves each
	// documented operation, without running any handler. Optional
	// routes are switched on; the catch-all "/" and the dashboard's
	// "GET /" (which answers every other GET) do not count as routes.
	cfg := DefaultConfig()
	cfg.Pprof = true
	s := New(cfg, Deps{Gatherer: prometheus.NewRegistry()})
	dashboardPaths := []string{"/", "/app.js", "/style.css"}
	ids := map[string]string{}
	for path, item := range doc.Paths {
		for key, raw := range item {
			if !slices.Contains(httpMethods, key) {
				continue
			}
			var op openAPIOperation
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", key, path, err)
			}
			if op.OperationID == "" {
				t.Errorf("%s %s has no operationId", key, path)
			} else if prev, dup := ids[op.OperationID]; dup {
				t.Errorf("operationId %q is used by %s and %s %s", op.OperationID, prev, key, path)
			}
			ids[op.OperationID] = key + " " + path
			if len(op.Responses) == 0 {
				t.Errorf("%s %s documents no response", key, path)
			}
			ok2xx := false
			for code := range op.Responses {
				ok2xx = ok2xx || strings.HasPrefix(code, "2")
			}
			if !ok2xx {
				t.Errorf("%s %s documents no 2xx response", key, path)
			}
			req := httptest.NewRequest(strings.ToUpper(key), strings.ReplaceAll(path, "{id}", "m1"), nil)
			_, pattern := s.mux.Handler(req)
			if pattern == "" || pattern == "/" || (pattern == "GET /" && !slices.Contains(dashboardPaths, path)) {
				t.Errorf("documented %s %s has no route (mux pattern %q)", strings.ToUpper(key), path, pattern)
			}
		}
	}
}

// TestOpenAPIReferencesAndErrors: every $ref resolves, every error
// response carries the {error, code} shape, and every path parameter in
// a template is declared.
func TestOpenAPIReferencesAndErrors(t *testing.T) {
	doc, raw := loadOpenAPI(t)
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch x := v.(type) {
		case map[string]any:
			if r, ok := x["$ref"].(string); ok {
				parts := strings.Split(strings.TrimPrefix(r, "#/"), "/")
				var cur any = raw
				for _, p := range parts {
					m, _ := cur.(map[string]any)
					cur = m[p]
				}
				if !strings.HasPrefix(r, "#/") || cur == nil {
					t.Errorf("%s: $ref %q does not resolve", at, r)
				}
			}
			for k, c := range x {
				walk(c, at+"/"+k)
			}
		case []any:
			for i, c := range x {
				walk(c, at+"/"+strconv.Itoa(i))
			}
		}
	}
	walk(raw, "#")

	var errSchema struct {
		Required   []string                   `json:"required"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(doc.Components.Schemas["Error"], &errSchema); err != nil {
		t.Fatalf("components.schemas.Error: %v", err)
	}
	for _, f := range []string{"error", "code"} {
		if !slices.Contains(errSchema.Required, f) || errSchema.Properties[f] == nil {
			t.Errorf("the Error schema must require %q", f)
		}
	}

	param := regexp.MustCompile(`\{([^}]+)\}`)
	for path, item := range doc.Paths {
		want := param.FindAllStringSubmatch(path, -1)
		var shared []json.RawMessage
		if p, ok := item["parameters"]; ok {
			_ = json.Unmarshal(p, &shared)
		}
		for key, rawOp := range item {
			if !slices.Contains(httpMethods, key) {
				continue
			}
			var op openAPIOperation
			_ = json.Unmarshal(rawOp, &op)
			declared := declaredPathParams(t, raw, append(slices.Clone(shared), op.Parameters...))
			for _, w := range want {
				if !declared[w[1]] {
					t.Errorf("%s %s: path parameter %q is not declared", key, path, w[1])
				}
			}
			for code, r := range op.Responses {
				if code[0] != '4' && code[0] != '5' {
					continue
				}
				if !strings.Contains(string(r), "#/components/responses/") && !strings.Contains(string(r), "#/components/schemas/Error") {
					t.Errorf("%s %s: response %s does not use the Error shape", key, path, code)
				}
			}
		}
	}
	for name, r := range doc.Components.Responses {
		if !strings.Contains(string(r), "#/components/schemas/Error") {
			t.Errorf("components.responses.%s does not use the Error schema", name)
		}
	}
}

func declaredPathParams(t *testing.T, raw map[string]any, params []json.RawMessage) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, p := range params {
		var ps struct {
			Ref  string `json:"$ref"`
			Name string `json:"name"`
			In   string `json:"in"`
		}
		_ = json.Unmarshal(p, &ps)
		if ps.Ref != "" {
			name := strings.TrimPrefix(ps.Ref, "#/components/parameters/")
			m, _ := raw["components"].(map[string]any)["parameters"].(map[string]any)[name].(map[string]any)
			ps.Name, _ = m["name"].(string)
			ps.In, _ = m["in"].(string)
		}
		if ps.In == "path" {
			out[ps.Name] = true
		}
	}
	return out
}

// TestOpenAPIServed: GET /v1/openapi.json answers the embedded document.
func TestOpenAPIServed(t *testing.T) {
	s := New(DefaultConfig(), Deps{})
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/openapi.json", nil))
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("GET /v1/openapi.json: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	want, _ := os.ReadFile("openapi.json")
	if rec.Body.String() != string(want) {
		t.Fatal("GET /v1/openapi.json differs from queryable/openapi.json")
	}
}

// openAPISchemaCheck validates the JSON files named after it against the
// OpenAPI 3.0 JSON Schema, printing each error, and exits 1 on any.
const openAPISchemaCheck = `import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
bad = 0
for f in sys.argv[2:]:
    for e in jsonschema.Draft4Validator(schema).iter_errors(json.load(open(f))):
        bad += 1
        print("%s: /%s: %s" % (f, "/".join(str(p) for p in e.absolute_path), e.message[:300]))
sys.exit(1 if bad else 0)`

// TestOpenAPISchema validates openapi.json against the OpenAPI 3.0 JSON
// Schema (testdata/openapi-3.0-schema.json, the one openapi-spec-validator
// ships) with an independent validator, Debian's python3-jsonschema, which
// .ci/run installs; and checks that the same validation rejects a document
// with an operation whose response has no description.
func TestOpenAPISchema(t *testing.T) {
	const py = "/usr/bin/python3"
	if exec.Command(py, "-c", "import jsonschema").Run() != nil {
		t.Skip("needs Debian's python3-jsonschema for /usr/bin/python3 (apt-get install python3-jsonschema; .ci/run installs it)")
	}
	schema := "testdata/openapi-3.0-schema.json"
	if out, err := exec.CommandContext(t.Context(), py, "-c", openAPISchemaCheck, schema, "openapi.json").CombinedOutput(); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI 3.0 document: %v\n%s", err, out)
	}

	var doc map[string]any
	b, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	paths := doc["paths"].(map[string]any)
	first := slices.Sorted(maps.Keys(paths))[0]
	var op string
	for _, m := range []string{"get", "post", "put", "delete"} {
		if _, ok := paths[first].(map[string]any)[m]; ok {
			op = m
			break
		}
	}
	paths[first].(map[string]any)[op].(map[string]any)["responses"] = map[string]any{"200": map[string]any{}}
	broken := filepath.Join(t.TempDir(), "broken.json")
	b, _ = json.Marshal(doc)
	if err := os.WriteFile(broken, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), py, "-c", openAPISchemaCheck, schema, broken).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "/paths/"+strings.ReplaceAll(first, "/", "~1")) && !strings.Contains(string(out), first) {
		t.Fatalf("a response without a description (%s %s) passed the schema: %v\n%s", op, first, err, out)
	}
}
