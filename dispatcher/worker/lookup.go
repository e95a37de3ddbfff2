package worker

import (
	"context"
	"errors"
	"strings"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/triggerd/triggerd/internal/event"
	"github.com/triggerd/triggerd/internal/store"
)

// lookup reads what deciding trigger events needs, inside their
// transaction. Everything read is remembered for the rest of the batch, and
// prefetch reads what a whole batch needs in a few bulk queries, so that a
// batch of hundreds of events costs a handful of round trips instead of ten
// per event. What prefetch did not foresee is read one at a time, so the
// answers are the same either way.
type lookup struct {
	q *store.Queries
	// commits is the creator's cache: a commit is immutable, so it is
	// shared across batches.
	commits *lru.Cache[store.ProjectRef, store.Commit]

	projects     memo[int64, store.Project]
	triggers     memo[string, store.Trigger] // by digest
	users        memo[int64, store.User]
	schedules    memo[int64, store.Schedule]
	scheduleVars memo[int64, []store.Variable]
	refs         memo[store.ProjectRef, []store.Ref]
	access       memo[store.UserProject, int]
}

func newLookup(q *store.Queries, commits *lru.Cache[store.ProjectRef, store.Commit]) *lookup {
	return &lookup{
		q: q, commits: commits,
		projects: memo[int64, store.Project]{}, triggers: memo[string, store.Trigger]{}, users: memo[int64, store.User]{},
		schedules: memo[int64, store.Schedule]{}, scheduleVars: memo[int64, []store.Variable]{},
		refs: memo[store.ProjectRef, []store.Ref]{}, access: memo[store.UserProject, int]{},
	}
}

// memo remembers values by key, and keys known to have none.
type memo[K comparable, V any] map[K]*V

// get returns the value of k, loading it on the first request; a key
// without a value is store.ErrNotFound.
func (m memo[K, V]) get(k K, load func() (V, error)) (V, error) {
	if v, ok := m[k]; ok {
		if v == nil {
			var zero V
			return zero, store.ErrNotFound
		}
		return *v, nil
	}
	v, err := load()
	switch {
	case err == nil:
		m[k] = &v
	case errors.Is(err, store.ErrNotFound):
		m[k] = nil
	}
	return v, err
}

// fill records the values found for keys by a bulk read, and that the other
// keys have none.
func (m memo[K, V]) fill(keys []K, found map[K]V) {
	for _, k := range keys {
		if v, ok := found[k]; ok {
			m[k] = &v
		} else {
			m[k] = nil
		}
	}
}

func (l *lookup) project(ctx context.Context, id int64) (store.Project, error) {
	return l.projects.get(id, func() (store.Project, error) { return l.q.ProjectByID(ctx, id) })
}

func (l *lookup) trigger(ctx context.Context, digest []byte) (store.Trigger, error) {
	return l.triggers.get(string(digest), func() (store.Trigger, error) { return l.q.TriggerByDigest(ctx, digest) })
}

func (l *lookup) user(ctx context.Context, id int64) (store.User, error) {
	return l.users.get(id, func() (store.User, error) { return l.q.UserByID(ctx, id) })
}

// schedule returns a project's schedule; one of another project is
// ErrNotFound.
func (l *lookup) schedule(ctx context.Context, projectID, id int64) (store.Schedule, error) {
	s, err := l.schedules.get(id, func() (store.Schedule, error) {
		ss, err := l.q.SchedulesByIDs(ctx, []int64{id})
		switch {
		case err != nil:
			return store.Schedule{}, err
		case len(ss) == 0:
			return store.Schedule{}, store.ErrNotFound
		}
		return ss[0], nil
	})
	if err == nil && s.ProjectID != projectID {
		return store.Schedule{}, store.ErrNotFound
	}
	return s, err
}

func (l *lookup) scheduleVariables(ctx context.Context, id int64) ([]store.Variable, error) {
	return l.scheduleVars.get(id, func() ([]store.Variable, error) { return l.q.ScheduleVariables(ctx, id) })
}

func (l *lookup) refsNamed(ctx context.Context, projectID int64, name string) ([]store.Ref, error) {
	return l.refs.get(store.ProjectRef{ProjectID: projectID, Name: name}, func() ([]store.Ref, error) {
		return l.q.RefsNamed(ctx, projectID, name)
	})
}

func (l *lookup) accessLevel(ctx context.Context, userID, projectID int64) (int, error) {
	return l.access.get(store.UserProject{UserID: userID, ProjectID: projectID}, func() (int, error) {
		return l.q.AccessLevel(ctx, userID, projectID)
	})
}

// commit returns a commit by its full id.
func (l *lookup) commit(ctx context.Context, projectID int64, sha string) (store.Commit, error) {
	k := store.ProjectRef{ProjectID: projectID, Name: sha}
	if c, ok := l.commits.Get(k); ok {
		return c, nil
	}
	c, err := l.q.CommitBySHA(ctx, projectID, sha)
	if err == nil {
		l.commits.Add(k, c)
	}
	return c, err
}

// scheduleRef is the ref a schedule's pipelines run for, without the
// refs/heads/ or refs/tags/ a schedule may name it with.
func scheduleRef(s store.Schedule) string {
	return strings.TrimPrefix(strings.TrimPrefix(s.Ref, "refs/heads/"), "refs/tags/")
}

// prefetch reads in bulk what deciding evs will ask for: their projects,
// trigger tokens and schedules, then the users, refs and access levels
// those name, then the refs' commits.
func (l *lookup) prefetch(ctx context.Context, evs []*event.TriggerRequested) error {
	var projectIDs, scheduleIDs []int64
	var digests [][]byte
	for _, ev := range evs {
		projectIDs = append(projectIDs, ev.ProjectID)
		switch ev.Source {
		case "trigger":
			digests = append(digests, ev.TokenDigest)
		case "schedule":
			scheduleIDs = append(scheduleIDs, ev.ScheduleID)
		}
	}
	if err := l.prefetchFirst(ctx, unique(projectIDs), digests, unique(scheduleIDs)); err != nil {
		return err
	}

	var userIDs []int64
	var refKeys []store.ProjectRef
	var pairs []store.UserProject
	for _, ev := range evs {
		switch ev.Source {
		case "trigger":
			if t := l.triggers[string(ev.TokenDigest)]; t != nil && t.OwnerID != nil {
				userIDs = append(userIDs, *t.OwnerID)
			}
			refKeys = append(refKeys, store.ProjectRef{ProjectID: ev.ProjectID, Name: ev.Ref})
		case "schedule":
			s := l.schedules[ev.ScheduleID]
			if s == nil || s.ProjectID != ev.ProjectID {
				continue
			}
			refKeys = append(refKeys, store.ProjectRef{ProjectID: ev.ProjectID, Name: scheduleRef(*s)})
			if s.OwnerID != nil {
				userIDs = append(userIDs, *s.OwnerID)
				pairs = append(pairs, store.UserProject{UserID: *s.OwnerID, ProjectID: ev.ProjectID})
			}
		default:
			refKeys = append(refKeys, store.ProjectRef{ProjectID: ev.ProjectID, Name: ev.Ref})
		}
	}
	refKeys = unique(refKeys)
	if err := l.prefetchSecond(ctx, unique(userIDs), refKeys, unique(pairs)); err != nil {
		return err
	}
	return l.prefetchCommits(ctx, refKeys)
}

func (l *lookup) prefetchFirst(ctx context.Context, projectIDs []int64, digests [][]byte, scheduleIDs []int64) error {
	projects, err := l.q.ProjectsByIDs(ctx, projectIDs)
	if err != nil {
		return err
	}
	l.projects.fill(projectIDs, byKey(projects, func(p store.Project) int64 { return p.ID }))
	if len(digests) > 0 {
		keys := make([]string, len(digests))
		for i, d := range digests {
			keys[i] = string(d)
		}
		keys = unique(keys)
		digests = make([][]byte, len(keys))
		for i, k := range keys {
			digests[i] = []byte(k)
		}
		ts, err := l.q.TriggersByDigests(ctx, digests)
		if err != nil {
			return err
		}
		found := make(map[string]store.Trigger, len(ts))
		for _, t := range ts {
			found[string(t.Digest)] = t.Trigger
		}
		l.triggers.fill(keys, found)
	}
	if len(scheduleIDs) > 0 {
		ss, err := l.q.SchedulesByIDs(ctx, scheduleIDs)
		if err != nil {
			return err
		}
		l.schedules.fill(scheduleIDs, byKey(ss, func(s store.Schedule) int64 { return s.ID }))
		vars, err := l.q.SchedulesVariables(ctx, scheduleIDs)
		if err != nil {
			return err
		}
		for _, id := range scheduleIDs {
			v := vars[id]
			l.scheduleVars[id] = &v
		}
	}
	return nil
}

func (l *lookup) prefetchSecond(ctx context.Context, userIDs []int64, refKeys []store.ProjectRef, pairs []store.UserProject) error {
	if len(userIDs) > 0 {
		us, err := l.q.UsersByIDs(ctx, userIDs)
		if err != nil {
			return err
		}
		l.users.fill(userIDs, byKey(us, func(u store.User) int64 { return u.ID }))
	}
	if len(refKeys) > 0 {
		refs, err := l.q.RefsNamedIn(ctx, refKeys)
		if err != nil {
			return err
		}
		found := map[store.ProjectRef][]store.Ref{}
		for _, r := range refs {
			k := store.ProjectRef{ProjectID: r.ProjectID, Name: r.Name}
			found[k] = append(found[k], r)
		}
		// A name without refs has an empty list, not no answer.
		for _, k := range refKeys {
			rs := found[k]
			l.refs[k] = &rs
		}
	}
	if len(pairs) > 0 {
		levels, err := l.q.AccessLevels(ctx, pairs)
		if err != nil {
			return err
		}
		l.access.fill(pairs, levels)
	}
	return nil
}

// prefetchCommits reads the commits of the refs found that the shared cache
// does not hold.
func (l *lookup) prefetchCommits(ctx context.Context, refKeys []store.ProjectRef) error {
	var missing []store.ProjectRef
	seen := map[store.ProjectRef]bool{}
	for _, k := range refKeys {
		rs := l.refs[k]
		if rs == nil {
			continue
		}
		for _, r := range *rs {
			ck := store.ProjectRef{ProjectID: r.ProjectID, Name: r.CommitSHA}
			if !seen[ck] && !l.commits.Contains(ck) {
				seen[ck] = true
				missing = append(missing, ck)
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	cs, err := l.q.CommitsIn(ctx, missing)
	if err != nil {
		return err
	}
	for _, c := range cs {
		l.commits.Add(store.ProjectRef{ProjectID: c.ProjectID, Name: c.SHA}, c)
	}
	return nil
}

// byKey indexes values by key.
func byKey[K comparable, V any](vs []V, key func(V) K) map[K]V {
	m := make(map[K]V, len(vs))
	for _, v := range vs {
		m[key(v)] = v
	}
	return m
}

// unique is keys without repeats, in first-seen order: bulk reads join on
// their keys, so a repeated key would repeat its rows.
func unique[K comparable](keys []K) []K {
	seen := make(map[K]bool, len(keys))
	out := keys[:0:0]
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}
