package queryable

import (
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actorserve/actorserve/actors/model"
	"github.com/actorserve/actorserve/actors/msg"
	"github.com/actorserve/actorserve/serving"
)

// Totals sums the listed models' live stats. In a page (limit or cursor
// given) they come from counters: Models is the number deployed, Active
// the actors the nodes host, and the sums are over those actors.
type Totals struct {
	Models   int     `json:"models"`
	Active   int     `json:"active"`
	Inactive int     `json:"inactive"`
	Usage    int64   `json:"usage"`
	Errors   int64   `json:"errors"`
	Rate1m   float64 `json:"rate_1m"`
}

type modelList struct {
	Models []ModelView `json:"models"`
	Count  int         `json:"count"`
	// Total is the number of deployed models under the prefix (all of
	// them without one), whatever the other filters.
	Total   int    `json:"total"`
	Totals  Totals `json:"totals"`
	Next    string `json:"next,omitempty"` // cursor of the next page; absent on the last
	Partial bool   `json:"partial"`
	// Missing lists the members that did not answer in time.
	Missing []string `json:"missing,omitempty"`
	Node    string   `json:"node,omitempty"` // set for ?local=true
}

// sortKeys are the fields /v1/models can sort by (numbers descending).
var sortKeys = map[string]func(a, b *ModelView) int{
	"id":          func(a, b *ModelView) int { return cmp.Compare(a.ID, b.ID) },
	"usage":       func(a, b *ModelView) int { return cmp.Compare(b.Usage, a.Usage) },
	"errors":      func(a, b *ModelView) int { return cmp.Compare(b.Errors, a.Errors) },
	"rate_1m":     func(a, b *ModelView) int { return cmp.Compare(b.Rate1m, a.Rate1m) },
	"mean_ms":     func(a, b *ModelView) int { return cmp.Compare(b.MeanMS, a.MeanMS) },
	"p50_ms":      func(a, b *ModelView) int { return cmp.Compare(b.P50MS, a.P50MS) },
	"p95_ms":      func(a, b *ModelView) int { return cmp.Compare(b.P95MS, a.P95MS) },
	"p99_ms":      func(a, b *ModelView) int { return cmp.Compare(b.P99MS, a.P99MS) },
	"max_ms":      func(a, b *ModelView) int { return cmp.Compare(b.MaxMS, a.MaxMS) },
	"mailbox":     func(a, b *ModelView) int { return cmp.Compare(b.Mailbox, a.Mailbox) },
	"version":     func(a, b *ModelView) int { return cmp.Compare(b.Version, a.Version) },
	"duration_ms": func(a, b *ModelView) int { return cmp.Compare(b.DurationMS, a.DurationMS) },
}

var states = []string{"active", "inactive", "failed", "loading", "deleted"}

// MaxPageLimit bounds ?limit= of a page.
const MaxPageLimit = model.MaxPage

// orderedTable is a descriptor table that pages in id order without
// copying itself (control.Table).
type orderedTable interface {
	Ascend(from string, fn func(id string, d *serving.Descriptor) bool)
	Len() int
}

// listQuery is a parsed GET /v1/models.
type listQuery struct {
	state, prefix, node, format string
	less                        func(a, b *ModelView) int
	sortBy                      string
	limit                       int // -1: no limit
	after                       string
	paged                       bool // limit or cursor given, sorted by id
}

func badParam(w http.ResponseWriter, name, text string) {
	writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("parameter %s: %s", name, text))
}

// encodeCursor makes the opaque cursor that resumes a listing after id.
func encodeCursor(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

func decodeCursor(c string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) == 0 || len(b) > serving.MaxIDBytes || !utf8.Valid(b) {
		return "", false
	}
	return string(b), true
}

func parseListQuery(w http.ResponseWriter, r *http.Request) (listQuery, bool) {
	q := r.URL.Query()
	lq := listQuery{state: q.Get("state"), sortBy: q.Get("sort"), prefix: q.Get("prefix"), node: q.Get("node"), format: q.Get("format"), limit: -1, less: sortKeys["id"]}
	if lq.state != "" && !slices.Contains(states, lq.state) {
		badParam(w, "state", fmt.Sprintf("%q is not one of %v", lq.state, states))
		return lq, false
	}
	if lq.sortBy != "" {
		var ok bool
		if lq.less, ok = sortKeys[lq.sortBy]; !ok {
			keys := make([]string, 0, len(sortKeys))
			for k := range sortKeys {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			badParam(w, "sort", fmt.Sprintf("%q is not one of %v", lq.sortBy, keys))
			return lq, false
		}
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			badParam(w, "limit", fmt.Sprintf("%q is not a non-negative integer", l))
			return lq, false
		}
		if n > MaxPageLimit {
			badParam(w, "limit", fmt.Sprintf("%d is above the maximum page of %d", n, MaxPageLimit))
			return lq, false
		}
		lq.limit = n
	}
	if c := q.Get("cursor"); c != "" {
		id, ok := decodeCursor(c)
		if !ok {
			badParam(w, "cursor", fmt.Sprintf("%q is not a cursor this API returned (pass the \"next\" of the previous page)", c))
			return lq, false
		}
		if lq.sortBy != "" && lq.sortBy != "id" {
			badParam(w, "cursor", fmt.Sprintf("pages follow the id order; it cannot be combined with sort=%s", lq.sortBy))
			return lq, false
		}
		lq.after = id
	}
	if len(lq.prefix) > serving.MaxIDBytes {
		badParam(w, "prefix", fmt.Sprintf("longer than a model id can be (%d bytes)", serving.MaxIDBytes))
		return lq, false
	}
	lq.paged = (lq.limit >= 0 || lq.after != "") && (lq.sortBy == "" || lq.sortBy == "id")
	if lq.paged && lq.limit < 0 {
		lq.limit = 100
	}
	return lq, true
}

func (s *Server) listModels(w http.ResponseWriter, r *http.Request) {
	lq, ok := parseListQuery(w, r)
	if !ok {
		return
	}
	ot, ordered := s.d.Table.(orderedTable)
	if lq.paged && ordered && r.URL.Query().Get("local") != "true" {
		writeJSON(w, http.StatusOK, s.page(r.Context(), lq, ot))
		return
	}
	s.listAll(w, r, lq)
}

// matches applies the filters a descriptor alone can answer.
func (lq *listQuery) matches(d *serving.Descriptor) bool {
	return strings.HasPrefix(d.ID, lq.prefix) && (lq.format == "" || d.Format == lq.format)
}

// page answers one page in id order. Every node is asked once, for no more
// than the page: with a state (other than inactive) or node filter, each
// node returns its first matching active models after the cursor and the
// pages are merged; otherwise the ids come from this node's table and the
// nodes report the stats of those ids only. Totals come from the nodes'
// counters.
func (s *Server) page(ctx context.Context, lq listQuery, ot orderedTable) modelList {
	out := modelList{Models: []ModelView{}}
	byActor := lq.node != "" || (lq.state != "" && lq.state != "inactive")
	// A view is large (its stats, variant and previous window): room for
	// the page at once, not grown by doubling, which was a quarter of a
	// page's CPU.
	rows := make([]ModelView, 0, min(lq.limit, 1000))
	more := false
	resume := "" // the id the next page starts after, when more
	var g pageGather
	if byActor {
		g = s.gatherPage(ctx, &msg.StatsQuery{Totals: true, Page: &msg.PageQuery{After: lq.after, Prefix: lq.prefix, State: lq.state, Format: lq.format, Limit: lq.limit + 1}}, lq.node)
		ids := make([]string, 0, len(g.byID))
		for id := range g.byID {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		// A node that filled its page may have more after the last id it
		// sent: no id past the smallest such last id is certain yet.
		limitID := g.cappedAt
		for _, id := range ids {
			if limitID != "" && id > limitID {
				more = true
				break
			}
			if len(rows) == lq.limit {
				more, resume = true, rows[len(rows)-1].ID
				break
			}
			d, ok := s.d.Table.Get(id)
			if !ok || !lq.matches(d) {
				continue
			}
			v := view(d, g.byID[id])
			if lq.state != "" && v.State != lq.state {
				continue
			}
			rows = append(rows, v)
		}
		if more && resume == "" {
			resume = limitID
		}
	} else {
		// Inactive models are found by elimination: scan the table in
		// batches and keep those no node hosts, a bounded number of rounds.
		after := lq.after
		for round := 0; ; round++ {
			batch := lq.limit + 1
			if lq.state == "inactive" {
				batch = max(2*lq.limit, 100)
			}
			var descs []*serving.Descriptor
			ot.Ascend(after+"\x00", func(id string, d *serving.Descriptor) bool {
				if !strings.HasPrefix(id, lq.prefix) {
					return id < lq.prefix // before the prefix range: go on; after it: stop
				}
				if lq.format == "" || d.Format == lq.format {
					descs = append(descs, d)
				}
				return len(descs) < batch
			})
			ids := make([]string, len(descs))
			for i, d := range descs {
				ids[i] = d.ID
			}
			q := &msg.StatsQuery{IDs: ids, Totals: round == 0}
			if len(ids) == 0 && round > 0 {
				break
			}
			rg := s.gatherPage(ctx, q, "")
			if round == 0 {
				g = rg
			} else {
				g.missing = append(g.missing, rg.missing...)
			}
			for _, d := range descs {
				if len(rows) == lq.limit {
					more, resume = true, after
					break
				}
				v := view(d, rg.byID[d.ID])
				if lq.state == "" || v.State == lq.state {
					rows = append(rows, v)
				}
				after = d.ID
			}
			if more || len(descs) < batch {
				break
			}
			if round == 9 {
				// Bounded work per request: a shorter page, resumed
				// where the scan stopped.
				more, resume = true, after
				break
			}
		}
	}
	out.Models = rows
	out.Count = len(out.Models)
	if more {
		out.Next = encodeCursor(resume)
	}
	if lq.prefix == "" {
		out.Total = ot.Len()
	} else {
		ot.Ascend(lq.prefix, func(id string, _ *serving.Descriptor) bool {
			if !strings.HasPrefix(id, lq.prefix) {
				return false
			}
			out.Total++
			return true
		})
	}
	out.Totals = g.totals
	out.Totals.Models = ot.Len()
	out.Totals.Inactive = max(0, out.Totals.Models-out.Totals.Active)
	slices.Sort(g.missing)
	out.Missing = slices.Compact(g.missing)
	out.Partial = len(out.Missing) > 0
	return out
}

// pageGather is one round of page queries over the members.
type pageGather struct {
	byID    map[string][]msg.ModelStats
	totals  Totals
	missing []string
	replies map[string]*msg.StatsReply // by member id
	// cappedAt is the smallest last id of the nodes that returned a
	// full page (empty: none did).
	cappedAt string
}

// gatherPage sends q to every member (only the one named node when node is
// set) under one deadline and merges the answers; a model reported by
// more than one member is asked again with its sketches, as gather does.
func (s *Server) gatherPage(ctx context.Context, q *msg.StatsQuery, node string) pageGather {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	type answer struct {
		name, id string
		reply    *msg.StatsReply
		err      error
	}
	members := s.d.Node.Members()
	ch := make(chan answer, len(members))
	n := 0
	for _, m := range members {
		if node != "" && m.Name != node {
			continue
		}
		n++
		go func() {
			if m.Self {
				ch <- answer{m.Name, m.ID, s.d.Host.StatsReply(m.ID, q), nil}
				return
			}
			res, err := s.d.Node.RequestPID(ctx, actor.NewPID(m.Remote, model.NodeActorName), q)
			rep, ok := res.(*msg.StatsReply)
			if err == nil && !ok {
				err = fmt.Errorf("member %s answered %T", m.Name, res)
			}
			ch <- answer{m.Name, m.ID, rep, err}
		}()
	}
	g := pageGather{byID: map[string][]msg.ModelStats{}, replies: map[string]*msg.StatsReply{}}
	for range n {
		a := <-ch
		if a.err != nil {
			s.logger.Warn("member did not answer the page query", "member", a.name, "err", a.err)
			g.missing = append(g.missing, a.name)
			continue
		}
		g.replies[a.id] = a.reply
		if t := a.reply.Totals; t != nil {
			g.totals.Active += t.Active
			g.totals.Usage += t.Usage
			g.totals.Errors += t.Errors
			g.totals.Rate1m += t.Rate1m
		}
		for _, st := range a.reply.Models {
			g.byID[st.ID] = append(g.byID[st.ID], st)
		}
		if p := q.Page; p != nil && len(a.reply.Models) >= p.Limit && len(a.reply.Models) > 0 {
			if last := a.reply.Models[len(a.reply.Models)-1].ID; g.cappedAt == "" || last < g.cappedAt {
				g.cappedAt = last
			}
		}
	}
	var dups []string
	for id, st := range g.byID {
		if len(st) > 1 {
			dups = append(dups, id)
		}
	}
	if len(dups) > 0 {
		again := s.gatherOnce(ctx, dups, true)
		for _, id := range dups {
			if st := again.byID[id]; len(st) > 0 {
				g.byID[id] = st
			}
		}
	}
	return g
}

// listAll answers a listing that is not a page: every model, sorted by
// any key, then cut to limit (the behaviour before paging, kept for
// ?sort= by a statistic and for ?local=true).
func (s *Server) listAll(w http.ResponseWriter, r *http.Request, lq listQuery) {
	var out modelList
	if r.URL.Query().Get("local") == "true" {
		// Only this node's actors: the per-node values the cluster view sums.
		out.Node = s.d.Node.Name()
		for _, st := range s.d.Host.Stats() {
			out.Models = append(out.Models, ModelView{ModelStats: st})
		}
	} else {
		descs := s.d.Table.List()
		g := s.gather(r.Context(), nil)
		out = modelList{Models: make([]ModelView, 0, len(descs)), Partial: len(g.missing) > 0, Missing: g.missing}
		for _, d := range descs {
			out.Models = append(out.Models, view(d, g.byID[d.ID]))
		}
		out.Total = len(descs)
	}
	filtered := out.Models[:0]
	for _, v := range out.Models {
		out.Totals.Models++
		if v.State == "inactive" {
			out.Totals.Inactive++
		} else {
			out.Totals.Active++
		}
		out.Totals.Usage += v.Usage
		out.Totals.Errors += v.Errors
		out.Totals.Rate1m += v.Rate1m
		if (lq.state == "" || v.State == lq.state) && strings.HasPrefix(v.ID, lq.prefix) &&
			(lq.format == "" || v.Format == lq.format) && (lq.node == "" || v.Node == lq.node) {
			filtered = append(filtered, v)
		}
	}
	if out.Node != "" {
		out.Total = len(out.Models)
	}
	out.Models = filtered
	slices.SortStableFunc(out.Models, func(a, b ModelView) int { return lq.less(&a, &b) })
	if lq.limit >= 0 && lq.limit < len(out.Models) {
		out.Models = out.Models[:lq.limit]
	}
	if out.Models == nil {
		out.Models = []ModelView{}
	}
	out.Count = len(out.Models)
	writeJSON(w, http.StatusOK, out)
}

// tableLen is the number of deployed models, without copying the table
// when it can say.
func (s *Server) tableLen() int {
	if ot, ok := s.d.Table.(orderedTable); ok {
		return ot.Len()
	}
	return len(s.d.Table.List())
}
