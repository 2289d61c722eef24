package sim

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
)

// simDesk is one simulated coordinator desk: its own credential and
// stream, like the dashboard.
type simDesk struct {
	index  int
	spec   CoordinatorSpec
	api    *apiClient
	stream *streamConn
	watch  bool // counts the run's statistics (the first joint desk)
	book   *book
	stats  *counters
}

// book remembers which desk logged which incident (it closes it) and
// which incidents wait for a check whether every worker is done.
type book struct {
	mu     sync.Mutex
	logged map[string]int
	check  chan string
}

func newBook() *book {
	return &book{logged: map[string]int{}, check: make(chan string, 4096)}
}

func (b *book) loggedBy(id string) (int, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d, ok := b.logged[id]
	return d, ok
}

func (b *book) setLogged(id string, desk int) {
	b.mu.Lock()
	b.logged[id] = desk
	b.mu.Unlock()
}

// onEvent runs on the desk's reader goroutine. It never blocks on the
// network: checks go to the closer through a queue.
func (d *simDesk) onEvent(h eventHead, _ []byte) {
	switch string(h.Type) {
	case dispatch.EventCompleted:
		// Only incidents the simulation logged: a person's incident on a
		// demo server is theirs to close.
		if i, ok := d.book.loggedBy(string(h.IncidentID)); ok && i == d.index {
			select {
			case d.book.check <- string(h.IncidentID):
			default: // a full queue only delays closing; the next completion retries
			}
		}
	}
	if !d.watch {
		return
	}
	switch string(h.Type) {
	case dispatch.EventIncidentStaffed:
		d.stats.staffed.Add(1)
	case dispatch.EventNeedUnfilled:
		d.stats.unfilled.Add(1)
	}
}

// closer closes incidents whose workers are all done, as a coordinator
// does from the incident panel, using the desk that logged each.
type closer struct {
	desks []*simDesk
	book  *book
	stats *counters
	log   *slog.Logger
}

func (c *closer) run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case id := <-c.book.check:
			if err := c.maybeClose(ctx, id); err != nil && ctx.Err() == nil {
				c.log.Debug("close incident", "incident", id, "err", err)
			}
		}
	}
}

type incidentWithAssignments struct {
	dispatch.Incident
	Assignments []dispatch.Assignment `json:"assignments"`
}

func (c *closer) maybeClose(ctx context.Context, id string) error {
	i, ok := c.book.loggedBy(id)
	if !ok {
		return nil
	}
	desk := c.desks[i]
	var inc incidentWithAssignments
	if err := desk.api.do(ctx, http.MethodGet, routeIncidents+"/"+url.PathEscape(id), nil, &inc); err != nil {
		return fmt.Errorf("read incident: %w", err)
	}
	if !allDone(inc) {
		return nil
	}
	if err := desk.api.closeIncident(ctx, id, "全部社工已完成 every worker reported done"); err != nil {
		return err
	}
	c.stats.closed.Add(1)
	return nil
}

// allDone reports whether every slot's current assignment is completed.
func allDone(inc incidentWithAssignments) bool {
	if inc.Status != dispatch.IncidentOpen && inc.Status != dispatch.IncidentStaffed {
		return false
	}
	state := make(map[string]dispatch.State, len(inc.Assignments))
	for _, a := range inc.Assignments {
		state[a.ID] = a.State
	}
	for _, s := range inc.Slots {
		if s.Assignment == "" || state[s.Assignment] != dispatch.StateCompleted {
			return false
		}
	}
	return len(inc.Slots) > 0
}

// scheduler logs the scenario's incidents at their (scaled) times.
type scheduler struct {
	plan  []PlannedIncident
	specs []CoordinatorSpec
	desks []*simDesk
	speed scale
	book  *book
	stats *counters
	log   *slog.Logger
}

func (s *scheduler) run(ctx context.Context) error {
	start := time.Now()
	for _, p := range s.plan {
		wait := time.Until(start.Add(s.speed.wall(p.At)))
		if wait > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
		}
		s.logOne(ctx, p)
	}
	s.log.Info("scenario schedule done", "incidents", len(s.plan))
	return nil
}

func (s *scheduler) logOne(ctx context.Context, p PlannedIncident) {
	i := loggerFor(s.specs, p.Input.Region)
	inc, err := s.desks[i].api.createIncident(ctx, p.Input)
	if err != nil {
		if ctx.Err() == nil {
			s.stats.logFailed.Add(1)
			s.log.Warn("log incident failed", "wave", p.Wave, "err", err)
		}
		return
	}
	s.book.setLogged(inc.ID, i)
	s.stats.logged.Add(1)
}
