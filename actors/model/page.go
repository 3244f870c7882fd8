package model

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actorserve/actorserve/actors/msg"
)

// MaxPage bounds the models one page query returns.
const MaxPage = 10_000

// StatsReply answers q from this node: the stats of q.IDs (or of the page
// q.Page selects), with the node's totals when q.Totals is set. A page
// costs O(a log a) for a models active here, never the number deployed.
func (h *Host) StatsReply(memberID string, q *msg.StatsQuery) *msg.StatsReply {
	rep := &msg.StatsReply{Node: h.nodeName, MemberID: memberID}
	snap := (*Stats).Snapshot
	if q.Sketches {
		snap = (*Stats).snapshotWire
	}
	if q.Page == nil && !q.Totals {
		rep.Models = h.stats(q.IDs, snap)
		if len(q.IDs) == 0 {
			rep.Partitions = h.Partitions()
		}
		return rep
	}
	type entry struct {
		id string
		s  *Stats
	}
	h.mu.RLock()
	all := make([]entry, 0, len(h.active))
	for id, ref := range h.active {
		all = append(all, entry{id, ref.stats})
	}
	h.mu.RUnlock()
	var tot msg.NodeTotals
	var page []entry
	now := time.Now()
	for _, e := range all {
		e.s.mu.Lock()
		state, format := e.s.state, e.s.format
		tot.Usage += e.s.usage
		tot.Errors += e.s.errors
		tot.Rate1m += e.s.series.rate(now)
		e.s.mu.Unlock()
		tot.Active++
		if p := q.Page; p != nil && e.id > p.After && strings.HasPrefix(e.id, p.Prefix) &&
			(p.State == "" || p.State == state) && (p.Format == "" || p.Format == format) {
			page = append(page, e)
		}
	}
	if q.Totals {
		rep.Totals = &tot
	}
	if q.Page == nil && len(q.IDs) == 0 {
		rep.Partitions = h.Partitions() // the cluster view asks for totals and partitions
	}
	if q.Page != nil {
		slices.SortFunc(page, func(a, b entry) int { return cmp.Compare(a.id, b.id) })
		page = page[:min(len(page), max(0, min(q.Page.Limit, MaxPage)))]
		rep.Models = make([]msg.ModelStats, len(page))
		for i, e := range page {
			rep.Models[i] = snap(e.s)
		}
	} else if len(q.IDs) > 0 {
		rep.Models = h.stats(q.IDs, snap)
	}
	return rep
}

// respondStats answers a StatsQuery sent to the node actor.
func (h *Host) respondStats(ctx actor.Context, q *msg.StatsQuery) {
	ctx.Respond(h.StatsReply(ctx.ActorSystem().ID, q))
}
