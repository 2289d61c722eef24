package web

import (
	"slices"
	"strings"
	"sync/atomic"
)

// audience indexes the hub's subscribers by what they receive, so that
// publishing an event costs what its audience costs, not what the number
// of open connections costs: a worker's event reaches one phone among tens
// of thousands without asking each of them.
//
// Coordinators are grouped by scope (all regions, or one set of regions):
// everyone in a group gets the same frames in the same order, so a batch
// is filtered once per group and pushed to each member in one call.
type audience struct {
	scopes  map[string]*scopeGroup             // by scopeKey; "" is unscoped
	workers map[string]map[subscriber]struct{} // by worker id
	n       int
	// desks counts subscribers in scopes (not workers); read without the
	// hub's lock for the flush gap, so atomic.
	desks atomic.Int64
}

type scopeGroup struct {
	filter streamFilter
	subs   map[subscriber]struct{}
}

func newAudience() *audience {
	return &audience{scopes: map[string]*scopeGroup{}, workers: map[string]map[subscriber]struct{}{}}
}

// scopeKey names a coordinator's set of regions; the filter keeps regions
// in the order asked, so the key sorts a copy.
func scopeKey(regions []string) string {
	if len(regions) == 0 {
		return ""
	}
	r := slices.Clone(regions)
	slices.Sort(r)
	return strings.Join(r, ",")
}

func (a *audience) add(s subscriber) {
	f := s.filter()
	if f.workerID != "" {
		set := a.workers[f.workerID]
		if set == nil {
			set = map[subscriber]struct{}{}
			a.workers[f.workerID] = set
		}
		if _, ok := set[s]; !ok {
			set[s] = struct{}{}
			a.n++
		}
		return
	}
	key := scopeKey(f.regions)
	g := a.scopes[key]
	if g == nil {
		g = &scopeGroup{filter: f, subs: map[subscriber]struct{}{}}
		a.scopes[key] = g
	}
	if _, ok := g.subs[s]; !ok {
		g.subs[s] = struct{}{}
		a.n++
		a.desks.Add(1)
	}
}

func (a *audience) remove(s subscriber) {
	f := s.filter()
	if f.workerID != "" {
		set := a.workers[f.workerID]
		if _, ok := set[s]; ok {
			delete(set, s)
			a.n--
			if len(set) == 0 {
				delete(a.workers, f.workerID)
			}
		}
		return
	}
	key := scopeKey(f.regions)
	if g := a.scopes[key]; g != nil {
		if _, ok := g.subs[s]; ok {
			delete(g.subs, s)
			a.n--
			a.desks.Add(-1)
			if len(g.subs) == 0 {
				delete(a.scopes, key)
			}
		}
	}
}

func (a *audience) len() int { return a.n }

// each calls fn for every subscriber.
func (a *audience) each(fn func(subscriber)) {
	for _, g := range a.scopes {
		for s := range g.subs {
			fn(s)
		}
	}
	for _, set := range a.workers {
		for s := range set {
			fn(s)
		}
	}
}

func (a *audience) clear() {
	clear(a.scopes)
	clear(a.workers)
	a.n = 0
	a.desks.Store(0)
}

// deliver hands frames (in sequence order) to everyone who wants them.
// A subscriber whose queue is full is passed to slow, after it has been
// removed. scratch is reused between calls to filter frames per group.
func (a *audience) deliver(frames []*frame, scratch []*frame, slow func(subscriber)) []*frame {
	for _, g := range a.scopes {
		sel := frames
		if len(g.filter.regions) > 0 {
			scratch = scratch[:0]
			for _, f := range frames {
				if g.filter.wants(f.meta) {
					scratch = append(scratch, f)
				}
			}
			sel = scratch
		}
		if len(sel) == 0 {
			continue
		}
		for s := range g.subs {
			if !s.pushMany(sel) {
				a.remove(s)
				slow(s)
			}
		}
	}
	if len(a.workers) > 0 {
		for _, f := range frames {
			if f.meta.WorkerID == "" {
				continue
			}
			for s := range a.workers[f.meta.WorkerID] {
				if !s.push(f) {
					a.remove(s)
					slow(s)
				}
			}
		}
	}
	clear(scratch)
	return scratch[:0]
}
