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
// q.Page selects), with the node's totals when q.Totals is set. The totals
// cost O(1) (running sums, see nodeTotals) and the stats of q.IDs
// O(len(q.IDs)); a page costs O(a log a) for a models active here, never
// the number deployed.
func (h *Host) StatsReply(memberID string, q *msg.StatsQuery) *msg.StatsReply {
	rep := &msg.StatsReply{Node: h.nodeName, MemberID: memberID}
	snap := (*Stats).Snapshot
	if q.Sketches {
		snap = (*Stats).snapshotWire
	}
	if q.Totals {
		tot := h.totals.read(time.Now())
		h.mu.RLock()
		tot.Active = len(h.active)
		h.mu.RUnlock()
		rep.Totals = &tot
	}
	if q.Page == nil && len(q.IDs) == 0 {
		// The cluster view asks for totals and partitions; a query with
		// neither ids nor totals, for every active model.
		rep.Partitions = h.Partitions()
	}
	switch {
	case q.Page != nil:
		type entry struct {
			id string
			s  *Stats
		}
		p := q.Page
		var page []entry
		h.mu.RLock()
		for id, ref := range h.active {
			if id > p.After && strings.HasPrefix(id, p.Prefix) {
				page = append(page, entry{id, ref.stats})
			}
		}
		h.mu.RUnlock()
		if p.State != "" || p.Format != "" {
			page = slices.DeleteFunc(page, func(e entry) bool {
				e.s.mu.Lock()
				state, format := e.s.state, e.s.format
				e.s.mu.Unlock()
				return (p.State != "" && p.State != state) || (p.Format != "" && p.Format != format)
			})
		}
		slices.SortFunc(page, func(a, b entry) int { return cmp.Compare(a.id, b.id) })
		page = page[:min(len(page), max(0, min(p.Limit, MaxPage)))]
		rep.Models = make([]msg.ModelStats, len(page))
		for i, e := range page {
			rep.Models[i] = snap(e.s)
		}
	case len(q.IDs) > 0 || !q.Totals:
		rep.Models = h.stats(q.IDs, snap)
	}
	return rep
}

// respondStats answers a StatsQuery sent to the node actor.
func (h *Host) respondStats(ctx actor.Context, q *msg.StatsQuery) {
	ctx.Respond(h.StatsReply(ctx.ActorSystem().ID, q))
}
