package app

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

type pageJSON struct {
	Models []struct {
		ID     string `json:"id"`
		Node   string `json:"node"`
		State  string `json:"state"`
		Format string `json:"format"`
		Usage  int64  `json:"usage"`
	} `json:"models"`
	Count  int    `json:"count"`
	Total  int    `json:"total"`
	Next   string `json:"next"`
	Totals struct {
		Models   int   `json:"models"`
		Active   int   `json:"active"`
		Inactive int   `json:"inactive"`
		Usage    int64 `json:"usage"`
	} `json:"totals"`
	Partial bool `json:"partial"`
}

func getPage(t *testing.T, addr, query string) (int, pageJSON, []byte) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/v1/models" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var p pageJSON
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatalf("GET /v1/models%s: %s: %v", query, b, err)
		}
	}
	return resp.StatusCode, p, b
}

// allPages follows the cursors from query and returns every id, checking
// each page's size, count and totals.
func allPages(t *testing.T, addr, query string, limit int) (ids []string, nodes map[string]string, pages int) {
	t.Helper()
	nodes = map[string]string{}
	cursor := ""
	for pages = 1; pages < 1000; pages++ {
		q := fmt.Sprintf("?limit=%d%s", limit, query)
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		st, p, b := getPage(t, addr, q)
		if st != 200 {
			t.Fatalf("GET /v1/models%s: %d %s", q, st, b)
		}
		if len(p.Models) > limit || p.Count != len(p.Models) || p.Partial {
			t.Fatalf("GET /v1/models%s: %d models, count %d, partial %v (limit %d)", q, len(p.Models), p.Count, p.Partial, limit)
		}
		for _, m := range p.Models {
			ids = append(ids, m.ID)
			nodes[m.ID] = m.Node
		}
		if p.Next == "" {
			return ids, nodes, pages
		}
		cursor = p.Next
	}
	t.Fatal("more than 1000 pages")
	return nil, nil, 0
}

// TestListPages pages through the models of a two-node cluster with each
// filter, and checks every page against what was deployed and activated.
func TestListPages(t *testing.T) {
	nodes, _ := startTestCluster(t, 2, nil)
	addr := nodes[0].HTTPAddr()
	var all, active, bees []string
	for i := range 23 {
		id := fmt.Sprintf("a-%02d", i)
		if i >= 15 {
			id = fmt.Sprintf("b-%02d", i)
			bees = append(bees, id)
		}
		putModel(t, addr, id, regressionModel(i))
		all = append(all, id)
		if i%3 == 0 {
			if err := predictHTTP(nodes[i%2].HTTPAddr(), id, 1); err != nil {
				t.Fatal(err)
			}
			active = append(active, id)
		}
	}
	inactive := slices.DeleteFunc(slices.Clone(all), func(id string) bool { return slices.Contains(active, id) })
	// Compatibility: no parameter lists everything, with no cursor.
	st, p, b := getPage(t, nodes[1].HTTPAddr(), "")
	if st != 200 || p.Count != len(all) || p.Total != len(all) || p.Next != "" || p.Totals.Active != len(active) {
		t.Fatalf("GET /v1/models: %d %s", st, b)
	}
	for _, c := range []struct {
		name, query string
		limit       int
		want        []string
	}{
		{"all", "", 4, all},
		{"all in one page", "", 100, all},
		{"prefix", "&prefix=b-", 3, bees},
		{"format", "&format=linear", 5, all},
		{"other format", "&format=onnx", 5, nil},
		{"active", "&state=active", 2, active},
		{"inactive", "&state=inactive", 4, inactive},
		{"active under a prefix", "&state=active&prefix=b-", 2, []string{"b-15", "b-18", "b-21"}},
	} {
		got, where, pages := allPages(t, nodes[1].HTTPAddr(), c.query, c.limit)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: pages of %d gave %v, want %v", c.name, c.limit, got, c.want)
		}
		if min := (len(c.want) + c.limit - 1) / c.limit; pages < max(1, min) {
			t.Errorf("%s: %d pages for %d models in pages of %d", c.name, pages, len(c.want), c.limit)
		}
		for _, id := range got {
			if (where[id] != "") != slices.Contains(active, id) {
				t.Errorf("%s: %s reported on node %q", c.name, id, where[id])
			}
		}
	}
	// The node filter: each active model is listed under its node only.
	var byNode []string
	for _, n := range nodes {
		ids, where, _ := allPages(t, addr, "&node="+n.Cluster.Name(), 2)
		for _, id := range ids {
			if where[id] != n.Cluster.Name() {
				t.Errorf("node=%s listed %s on %q", n.Cluster.Name(), id, where[id])
			}
		}
		byNode = append(byNode, ids...)
	}
	slices.Sort(byNode)
	if !slices.Equal(byNode, active) {
		t.Errorf("the node filters together listed %v, want the active models %v", byNode, active)
	}
	// Totals come from counters, whatever the page.
	_, p, _ = getPage(t, addr, "?limit=1&prefix=b-")
	if p.Total != len(bees) || p.Totals.Models != len(all) || p.Totals.Active != len(active) || p.Totals.Inactive != len(inactive) || p.Totals.Usage != int64(len(active)) {
		t.Errorf("limit=1&prefix=b-: total %d, totals %+v; want total %d, %d models, %d active", p.Total, p.Totals, len(bees), len(all), len(active))
	}
	// The cluster view counts from the same counters.
	resp, err := http.Get("http://" + addr + "/v1/cluster")
	if err != nil {
		t.Fatal(err)
	}
	var cv struct {
		Models  int `json:"models"`
		Members []struct {
			Name         string `json:"name"`
			ActiveModels *int   `json:"active_models"`
		} `json:"members"`
	}
	err = json.NewDecoder(resp.Body).Decode(&cv)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0
	for _, m := range cv.Members {
		if m.ActiveModels == nil {
			t.Fatalf("/v1/cluster: member %s without active_models", m.Name)
		}
		sum += *m.ActiveModels
	}
	if cv.Models != len(all) || len(cv.Members) != 2 || sum != len(active) {
		t.Errorf("/v1/cluster: %d models, %d members with %d active models; want %d, 2, %d", cv.Models, len(cv.Members), sum, len(all), len(active))
	}
	// Bad parameters: 400 with a JSON error naming the parameter.
	for _, c := range []struct{ query, param string }{
		{"?limit=-1", "limit"},
		{"?limit=ten", "limit"},
		{"?limit=1000000", "limit"},
		{"?cursor=%21%21", "cursor"},
		{"?cursor=", ""},
		{"?state=asleep", "state"},
		{"?sort=usage&cursor=YS0wMQ", "cursor"},
		{"?sort=size", "sort"},
		{"?prefix=" + strings.Repeat("x", 300), "prefix"},
	} {
		st, _, b := getPage(t, addr, c.query)
		if c.param == "" {
			if st != 200 {
				t.Errorf("GET /v1/models%s: %d %s, want 200", c.query, st, b)
			}
			continue
		}
		var e struct{ Error, Code string }
		if err := json.Unmarshal(b, &e); st != 400 || err != nil || e.Code != "bad_request" || !strings.Contains(e.Error, "parameter "+c.param) {
			t.Errorf("GET /v1/models%s: %d %s, want 400 naming %s", c.query, st, b, c.param)
		}
	}
	// The CLI reads the listing a page at a time.
	var out, errOut strings.Builder
	if err := runModels(t.Context(), []string{"--http", addr, "--page", "4", "--prefix", "a-"}, &out, &errOut); err != nil {
		t.Fatalf("actorserve models: %v: %s", err, errOut.String())
	}
	for _, id := range all {
		if got := strings.Contains(out.String(), id+" "); got != strings.HasPrefix(id, "a-") {
			t.Errorf("actorserve models --prefix a- printed %s: %v\n%s", id, got, out.String())
		}
	}
	if !strings.Contains(out.String(), fmt.Sprintf("%d models (%d active", len(all), len(active))) || strings.Contains(out.String(), "--cursor") {
		t.Errorf("actorserve models --page 4:\n%s", out.String())
	}
	out.Reset()
	if err := runModels(t.Context(), []string{"--http", addr, "--page", "2", "--limit", "3"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "a-02 ") || strings.Contains(out.String(), "a-03 ") || !strings.Contains(out.String(), "more after these: --cursor ") {
		t.Errorf("actorserve models --limit 3:\n%s", out.String())
	}
	// A statistic sort with a limit keeps its meaning: the top models.
	_, p, _ = getPage(t, addr, "?sort=usage&limit=2")
	if len(p.Models) != 2 || p.Models[0].Usage != 1 || p.Next != "" {
		t.Errorf("sort=usage&limit=2: %+v", p)
	}
}
