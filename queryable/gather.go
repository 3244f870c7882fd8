package queryable

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/mapping"
	"github.com/DataDog/sketches-go/ddsketch/store"
	"github.com/asynkron/protoactor-go/actor"

	"github.com/actorserve/actorserve/actors/model"
	"github.com/actorserve/actorserve/actors/msg"
	"github.com/actorserve/actorserve/cluster"
	"github.com/actorserve/actorserve/serving"
)

// ModelView is one model in /v1/models and /v1/models/{id}: the deployed
// descriptor merged with the live stats of its actor, wherever it runs.
type ModelView struct {
	msg.ModelStats
	// Replicas lists every node that reported an active actor for this
	// model; more than one means a short double activation during churn,
	// and the stats are then merged from all of them.
	Replicas []string `json:"replicas,omitempty"`
	// PerNode holds each node's own stats when several reported the model
	// (GET /v1/models/{id} only).
	PerNode []msg.ModelStats `json:"per_node,omitempty"`
}

// gathered is one scatter-gather over the members.
type gathered struct {
	byID    map[string][]msg.ModelStats
	replies map[string]*msg.StatsReply // by member id
	missing []string
}

// gather asks every member, under one deadline, for the stats of the model
// actors it hosts (only ids when given). Members that do not answer in time
// are listed in missing. A model reported by more than one member (a
// double activation during churn) is asked again with its latency
// sketches, so that its percentiles can be merged.
func (s *Server) gather(ctx context.Context, ids []string) gathered {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	g := s.gatherOnce(ctx, ids, false)
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

func (s *Server) gatherOnce(ctx context.Context, ids []string, sketches bool) gathered {
	members := s.d.Node.Members()
	type answer struct {
		m     cluster.Member
		reply *msg.StatsReply
		err   error
	}
	ch := make(chan answer, len(members))
	for _, m := range members {
		go func() {
			if m.Self {
				models := s.d.Host.Stats(ids...)
				if sketches {
					models = s.d.Host.SketchStats(ids...)
				}
				rep := &msg.StatsReply{Node: s.d.Node.Name(), MemberID: m.ID, Models: models}
				if len(ids) == 0 {
					rep.Partitions = s.d.Host.Partitions()
				}
				ch <- answer{m, rep, nil}
				return
			}
			res, err := s.d.Node.RequestPID(ctx, actor.NewPID(m.Remote, model.NodeActorName), &msg.StatsQuery{IDs: ids, Sketches: sketches})
			rep, ok := res.(*msg.StatsReply)
			if err == nil && !ok {
				err = fmt.Errorf("member %s answered %T", m.Name, res)
			}
			ch <- answer{m, rep, err}
		}()
	}
	g := gathered{byID: map[string][]msg.ModelStats{}, replies: map[string]*msg.StatsReply{}}
	for range members {
		a := <-ch
		if a.err != nil {
			s.logger.Warn("member did not answer the stats query", "member", a.m.Name, "err", a.err)
			g.missing = append(g.missing, a.m.Name)
			continue
		}
		g.replies[a.m.ID] = a.reply
		for _, st := range a.reply.Models {
			g.byID[st.ID] = append(g.byID[st.ID], st)
		}
	}
	slices.Sort(g.missing)
	return g
}

// view merges a descriptor with the stats its actor(s) reported.
func view(d *serving.Descriptor, stats []msg.ModelStats) ModelView {
	if len(stats) == 0 {
		return ModelView{ModelStats: msg.ModelStats{ID: d.ID, Version: d.Version, Format: d.Format, Description: d.Description, State: "inactive"}}
	}
	v := ModelView{ModelStats: merge(stats)}
	if len(stats) > 1 {
		for _, st := range stats {
			v.Replicas = append(v.Replicas, st.Node)
		}
		slices.Sort(v.Replicas)
	}
	v.Sketch, v.Buckets = nil, nil
	return v
}

// merge combines the stats one model's actors reported from several nodes
// (a double activation during membership churn): counters add up, min and
// max combine, and the percentiles come from the merged sketches. Only the
// newest version's reports are merged.
func merge(stats []msg.ModelStats) msg.ModelStats {
	if len(stats) == 1 {
		return stats[0]
	}
	top := slices.MaxFunc(stats, func(a, b msg.ModelStats) int { return cmp.Compare(a.Version, b.Version) }).Version
	var out msg.ModelStats
	var sk *ddsketch.DDSketch
	first := true
	for _, st := range stats {
		if st.Version != top {
			continue
		}
		if first {
			out = st
			out.ErrorsBy = map[string]int64{}
			for k, v := range st.ErrorsBy {
				out.ErrorsBy[k] = v
			}
			sk = decodeSketch(st.Sketch)
			first = false
			continue
		}
		if st.Usage > out.Usage {
			out.Node = st.Node
		}
		if out.Usage == 0 || (st.Usage > 0 && st.MinMS < out.MinMS) {
			out.MinMS = st.MinMS
		}
		out.MaxMS = math.Max(out.MaxMS, st.MaxMS)
		out.Usage += st.Usage
		out.Errors += st.Errors
		out.DurationMS += st.DurationMS
		out.Rate1m += st.Rate1m
		out.Mailbox += st.Mailbox
		out.Shed += st.Shed
		for k, v := range st.ErrorsBy {
			out.ErrorsBy[k] += v
		}
		if st.Since.Before(out.Since) {
			out.Since = st.Since
		}
		if st.LastUsed.After(out.LastUsed) {
			out.LastUsed = st.LastUsed
		}
		if o := decodeSketch(st.Sketch); o != nil {
			if sk == nil {
				sk = o
			} else {
				_ = sk.MergeWith(o)
			}
		}
	}
	if out.Usage > 0 {
		out.MeanMS = out.DurationMS / float64(out.Usage)
	}
	out.Variant = mergeVariants(stats, top)
	if sk != nil && !sk.IsEmpty() {
		if q, err := sk.GetValuesAtQuantiles([]float64{0.5, 0.95, 0.99}); err == nil {
			clamp := func(ns float64) float64 { return math.Min(math.Max(ns/1e6, out.MinMS), out.MaxMS) }
			out.P50MS, out.P95MS, out.P99MS = clamp(q[0]), clamp(q[1]), clamp(q[2])
		}
	}
	return out
}

// mergeVariants merges the variant stats the replicas of one model
// version reported (nil when none did).
func mergeVariants(stats []msg.ModelStats, version int64) *msg.ModelStats {
	var vs []msg.ModelStats
	for _, st := range stats {
		if st.Version == version && st.Variant != nil {
			vs = append(vs, *st.Variant)
		}
	}
	if len(vs) == 0 {
		return nil
	}
	out := merge(vs)
	out.Served, out.Compared, out.Agreed = 0, 0, 0
	for _, v := range vs {
		if v.Version == out.Version {
			out.Served += v.Served
			out.Compared += v.Compared
			out.Agreed += v.Agreed
		}
	}
	if out.Compared > 0 {
		out.Agreement = float64(out.Agreed) / float64(out.Compared)
	}
	return &out
}

func decodeSketch(b []byte) *ddsketch.DDSketch {
	if len(b) == 0 {
		return nil
	}
	m, err := mapping.NewLogarithmicMapping(0.01)
	if err != nil {
		return nil
	}
	sk, err := ddsketch.DecodeDDSketch(b, store.DefaultProvider, m)
	if err != nil {
		return nil
	}
	return sk
}

type modelDetail struct {
	ModelView
	Descriptor *serving.Descriptor `json:"descriptor"`
	Partial    bool                `json:"partial"`
	Missing    []string            `json:"missing,omitempty"`
}

func (s *Server) getModel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	d, ok := s.requireModel(w, id)
	if !ok {
		return
	}
	g := s.gather(r.Context(), []string{id})
	dd := redacted(d)
	mv := view(d, g.byID[id])
	if rows := g.byID[id]; len(rows) > 1 {
		mv.PerNode = make([]msg.ModelStats, len(rows))
		for i, st := range rows {
			st.Sketch, st.Buckets = nil, nil
			mv.PerNode[i] = st
		}
		slices.SortFunc(mv.PerNode, func(a, b msg.ModelStats) int { return cmp.Compare(a.Node, b.Node) })
	}
	writeJSON(w, http.StatusOK, modelDetail{ModelView: mv, Descriptor: dd, Partial: len(g.missing) > 0, Missing: g.missing})
}

type historyJSON struct {
	ID      string             `json:"id"`
	Node    string             `json:"node,omitempty"`
	State   string             `json:"state"`
	Points  []msg.HistoryPoint `json:"points"`
	Partial bool               `json:"partial"`
	Missing []string           `json:"missing,omitempty"`
}

// history answers the last hour of one-minute buckets of a model, from
// the node that hosts its actor.
func (s *Server) history(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := s.requireModel(w, id); !ok {
		return
	}
	out := historyJSON{ID: id, State: "inactive", Points: []msg.HistoryPoint{}}
	if pts, ok := s.d.Host.History(id); ok {
		out.Node, out.State, out.Points = s.d.Node.Name(), "active", pts
		writeJSON(w, http.StatusOK, out)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	type answer struct {
		m   cluster.Member
		rep *msg.HistoryReply
		err error
	}
	members := s.d.Node.Members()
	ch := make(chan answer, len(members))
	n := 0
	for _, m := range members {
		if m.Self {
			continue
		}
		n++
		go func() {
			res, err := s.d.Node.RequestPID(ctx, actor.NewPID(m.Remote, model.NodeActorName), &msg.HistoryQuery{ID: id})
			rep, _ := res.(*msg.HistoryReply)
			if err == nil && rep == nil {
				err = fmt.Errorf("answered %T", res)
			}
			ch <- answer{m, rep, err}
		}()
	}
	for range n {
		a := <-ch
		switch {
		case a.err != nil:
			out.Missing = append(out.Missing, a.m.Name)
		case a.rep.Found && (out.Node == "" || len(a.rep.Points) > len(out.Points)):
			out.Node, out.State, out.Points = a.rep.Node, "active", a.rep.Points
		}
	}
	slices.Sort(out.Missing)
	out.Partial = len(out.Missing) > 0
	writeJSON(w, http.StatusOK, out)
}

// --- cluster ---

type memberView struct {
	cluster.Member
	Status       string              `json:"status"`
	UptimeS      float64             `json:"uptime_s"`
	ActiveModels *int                `json:"active_models"`
	Partitions   []msg.PartitionInfo `json:"partitions"`
	Lag          int64               `json:"lag"`
}

type clusterViewJSON struct {
	Self    string       `json:"self"`
	Members []memberView `json:"members"`
	Models  int          `json:"models"`
	Partial bool         `json:"partial"`
	Missing []string     `json:"missing,omitempty"`
}

func (s *Server) clusterView(w http.ResponseWriter, r *http.Request) {
	// Counters and partitions only: no member sends its models' stats.
	g := s.gatherPage(r.Context(), &msg.StatsQuery{Totals: true}, "")
	slices.Sort(g.missing)
	out := clusterViewJSON{Self: s.d.Node.Name(), Models: s.tableLen(), Partial: len(g.missing) > 0, Missing: g.missing, Members: []memberView{}}
	now := time.Now()
	for _, m := range s.d.Node.Members() {
		mv := memberView{Member: m, Status: "alive", UptimeS: math.Round(now.Sub(m.Started).Seconds()), Partitions: []msg.PartitionInfo{}}
		if rep, ok := g.replies[m.ID]; ok {
			n := len(rep.Models) // a member of an earlier version sends them all
			if rep.Totals != nil {
				n = rep.Totals.Active
			}
			mv.ActiveModels = &n
			if rep.Partitions != nil {
				mv.Partitions = rep.Partitions
			}
			for _, p := range rep.Partitions {
				mv.Lag += max(0, p.Lag)
			}
		} else {
			mv.Status = "unresponsive"
		}
		out.Members = append(out.Members, mv)
	}
	writeJSON(w, http.StatusOK, out)
}
