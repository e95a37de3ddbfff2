package api

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/triggerd/triggerd/internal/event"
	"github.com/triggerd/triggerd/internal/store"
)

// Caches keep the trigger hot path off the database: projects by id and
// path, trigger tokens by digest, and which refs exist. Entries are filled on
// a miss, dropped when an invalidation arrives over NATS, and expire after a
// TTL as a safety net should an invalidation be lost. Misses are cached too,
// for a shorter time, so a flood of bad tokens does not become a flood of
// queries. Caches are advisory: the dispatcher re-checks tokens and refs
// against the database. Safe for concurrent use.
type Caches struct {
	projects *expirable.LRU[string, cached[store.Project]]
	triggers *expirable.LRU[string, cached[store.Trigger]]
	refs     *expirable.LRU[refKey, cached[[]string]]
	missTTL  time.Duration
}

type cached[T any] struct {
	val   T
	found bool
	at    time.Time
}

type refKey struct {
	project int64
	name    string
}

// NewCaches makes caches holding up to size entries each for up to ttl.
func NewCaches(size int, ttl time.Duration) *Caches {
	miss := ttl / 10
	if miss > 5*time.Second {
		miss = 5 * time.Second
	}
	return &Caches{
		projects: expirable.NewLRU[string, cached[store.Project]](size, nil, ttl),
		triggers: expirable.NewLRU[string, cached[store.Trigger]](size, nil, ttl),
		refs:     expirable.NewLRU[refKey, cached[[]string]](size, nil, ttl),
		missTTL:  miss,
	}
}

// through returns the cached value for key, or loads and caches it. A
// not-found load is cached as a miss; other errors are not cached.
func through[K comparable, T any](c *expirable.LRU[K, cached[T]], missTTL time.Duration, key K, load func() (T, error)) (T, error) {
	if e, ok := c.Get(key); ok && (e.found || time.Since(e.at) < missTTL) {
		if !e.found {
			var zero T
			return zero, store.ErrNotFound
		}
		return e.val, nil
	}
	v, err := load()
	switch {
	case err == nil:
		c.Add(key, cached[T]{val: v, found: true, at: time.Now()})
	case errors.Is(err, store.ErrNotFound):
		c.Add(key, cached[T]{at: time.Now()})
	}
	return v, err
}

// Project resolves a project id or full path.
func (c *Caches) Project(ctx context.Context, q *store.Queries, idOrPath string) (store.Project, error) {
	key := strings.ToLower(idOrPath)
	return through(c.projects, c.missTTL, key, func() (store.Project, error) {
		if id, err := strconv.ParseInt(idOrPath, 10, 64); err == nil {
			return q.ProjectByID(ctx, id)
		}
		return q.ProjectByPath(ctx, idOrPath)
	})
}

// Trigger finds a trigger token by digest.
func (c *Caches) Trigger(ctx context.Context, q *store.Queries, digest []byte) (store.Trigger, error) {
	return through(c.triggers, c.missTTL, string(digest), func() (store.Trigger, error) {
		return q.TriggerByDigest(ctx, digest)
	})
}

// RefKinds returns the kinds ("branch", "tag") of the refs called name.
func (c *Caches) RefKinds(ctx context.Context, q *store.Queries, projectID int64, name string) ([]string, error) {
	kinds, err := through(c.refs, c.missTTL, refKey{projectID, name}, func() ([]string, error) {
		refs, err := q.RefsNamed(ctx, projectID, name)
		if err != nil {
			return nil, err
		}
		if len(refs) == 0 {
			// Cached as a miss, which expires sooner than a hit.
			return nil, store.ErrNotFound
		}
		kinds := make([]string, len(refs))
		for i, r := range refs {
			kinds[i] = r.Kind
		}
		return kinds, nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return kinds, err
}

// Invalidate drops what an invalidation names.
func (c *Caches) Invalidate(inv event.Invalidation) {
	if len(inv.TokenDigest) > 0 {
		c.triggers.Remove(string(inv.TokenDigest))
	}
	if inv.ProjectID != 0 {
		if inv.Ref != "" {
			c.refs.Remove(refKey{inv.ProjectID, inv.Ref})
		} else {
			// A renamed or deleted project: paths are keys too, so drop
			// every project entry, and the project's refs; this is rare.
			c.projects.Purge()
			for _, k := range c.refs.Keys() {
				if k.project == inv.ProjectID {
					c.refs.Remove(k)
				}
			}
		}
	}
}

// Publisher is the ingress's side of the trigger pipeline: it durably
// publishes trigger events, delivers the dispatcher's outcome to whoever
// waits for it, and broadcasts cache invalidations. Implementations are safe
// for concurrent use.
type Publisher interface {
	// Await registers interest in an event's outcome before it is published;
	// the channel receives at most one outcome. cancel must be called when
	// the caller stops waiting.
	Await(eventID string) (outcome <-chan event.Outcome, cancel func())
	// PublishTrigger stores ev in JetStream and returns once the stream
	// acknowledged it. duplicate is true when an event with the same id was
	// already stored. err wraps JetStream's error, so that
	// broker.IsStreamFull and broker.IsTooLarge recognise a refusal.
	PublishTrigger(ctx context.Context, ev *event.TriggerRequested) (duplicate bool, err error)
	// Invalidate tells every ingress's caches to forget what inv names.
	Invalidate(ctx context.Context, inv event.Invalidation)
	// PipelineChanged tells the dispatchers that a user changed a pipeline
	// (canceled, retried, played a job), so that they release and publish
	// its jobs, and tells the runners of canceled jobs to stop them.
	PipelineChanged(ctx context.Context, projectID, pipelineID int64, canceledJobs []int64) error
}

// invalidate drops what inv names from this process's caches at once and
// tells every other ingress to do the same.
func (s *Server) invalidate(ctx context.Context, inv event.Invalidation) {
	s.caches.Invalidate(inv)
	if s.pub != nil {
		s.pub.Invalidate(ctx, inv)
	}
}
