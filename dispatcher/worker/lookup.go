package worker

import (
	"context"
	"errors"
	"slices"
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
		var b store.Batch
		ss := b.SchedulesByIDs([]int64{id})
		switch err := l.q.Send(ctx, &b); {
		case err != nil:
			return store.Schedule{}, err
		case len(*ss) == 0:
			return store.Schedule{}, store.ErrNotFound
		}
		return (*ss)[0], nil
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

// firstReads are the bulk reads that need nothing but the events: their
// projects, trigger tokens and the tokens' owners, schedules, and the refs
// they name. They are queued on the batch that begins the transaction (see
// store.InTxAfter), and fill the lookup once it has been sent.
type firstReads struct {
	projectIDs  []int64
	projects    *[]store.Project
	digests     []string
	triggers    *[]store.DigestTrigger
	owners      *[]store.User
	scheduleIDs []int64
	schedules   *[]store.Schedule
	vars        *[]store.ScheduleVariable
	refKeys     []store.ProjectRef
	refs        *[]store.Ref
}

// queueFirst queues the first reads of evs on b.
func (l *lookup) queueFirst(b *store.Batch, evs []*event.TriggerRequested) *firstReads {
	var r firstReads
	for _, ev := range evs {
		r.projectIDs = append(r.projectIDs, ev.ProjectID)
		switch ev.Source {
		case "trigger":
			r.digests = append(r.digests, string(ev.TokenDigest))
			r.refKeys = append(r.refKeys, store.ProjectRef{ProjectID: ev.ProjectID, Name: ev.Ref})
		case "schedule":
			r.scheduleIDs = append(r.scheduleIDs, ev.ScheduleID)
		default:
			r.refKeys = append(r.refKeys, store.ProjectRef{ProjectID: ev.ProjectID, Name: ev.Ref})
		}
	}
	r.projectIDs, r.digests, r.scheduleIDs, r.refKeys = unique(r.projectIDs), unique(r.digests), unique(r.scheduleIDs), unique(r.refKeys)
	r.projects = b.ProjectsByIDs(r.projectIDs)
	if len(r.digests) > 0 {
		digests := make([][]byte, len(r.digests))
		for i, k := range r.digests {
			digests[i] = []byte(k)
		}
		r.triggers, r.owners = b.TriggersByDigests(digests), b.TriggerOwners(digests)
	}
	if len(r.scheduleIDs) > 0 {
		r.schedules, r.vars = b.SchedulesByIDs(r.scheduleIDs), b.SchedulesVariables(r.scheduleIDs)
	}
	if len(r.refKeys) > 0 {
		r.refs = b.RefsNamedIn(r.refKeys)
	}
	return &r
}

// fill records what the first reads found, and that the keys they asked
// for and did not find have no value.
func (l *lookup) fill(r *firstReads) {
	l.projects.fill(r.projectIDs, byKey(*r.projects, func(p store.Project) int64 { return p.ID }))
	if r.triggers != nil {
		found := make(map[string]store.Trigger, len(*r.triggers))
		for _, t := range *r.triggers {
			found[string(t.Digest)] = t.Trigger
		}
		l.triggers.fill(r.digests, found)
		for _, u := range *r.owners {
			l.users[u.ID] = &u
		}
	}
	if r.schedules != nil {
		l.schedules.fill(r.scheduleIDs, byKey(*r.schedules, func(s store.Schedule) int64 { return s.ID }))
		vars := map[int64][]store.Variable{}
		for _, v := range *r.vars {
			vars[v.ScheduleID] = append(vars[v.ScheduleID], v.Variable)
		}
		for _, id := range r.scheduleIDs {
			v := vars[id]
			l.scheduleVars[id] = &v
		}
	}
	if r.refs != nil {
		l.fillRefs(r.refKeys, *r.refs)
	}
}

// fillRefs records the refs read for keys: a name without refs has an
// empty list, not no answer.
func (l *lookup) fillRefs(keys []store.ProjectRef, refs []store.Ref) {
	found := map[store.ProjectRef][]store.Ref{}
	for _, r := range refs {
		k := store.ProjectRef{ProjectID: r.ProjectID, Name: r.Name}
		found[k] = append(found[k], r)
	}
	for _, k := range keys {
		rs := found[k]
		l.refs[k] = &rs
	}
}

// prefetchRest reads in bulk, in one round trip, what deciding evs will ask
// for beyond the first reads: the users, refs and access levels that
// schedules name, and any trigger owner not found; then the refs' commits
// that the shared cache does not hold.
func (l *lookup) prefetchRest(ctx context.Context, evs []*event.TriggerRequested) error {
	var userIDs []int64
	var refKeys []store.ProjectRef
	var pairs []store.UserProject
	for _, ev := range evs {
		switch ev.Source {
		case "trigger":
			if t := l.triggers[string(ev.TokenDigest)]; t != nil && t.OwnerID != nil {
				userIDs = append(userIDs, *t.OwnerID)
			}
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
		}
	}
	userIDs, refKeys, pairs = missing(l.users, unique(userIDs)), missing(l.refs, unique(refKeys)), missing(l.access, unique(pairs))
	var b store.Batch
	var users *[]store.User
	var refs *[]store.Ref
	var levels *[]store.AccessLevel
	if len(userIDs) > 0 {
		users = b.UsersByIDs(userIDs)
	}
	if len(refKeys) > 0 {
		refs = b.RefsNamedIn(refKeys)
	}
	if len(pairs) > 0 {
		levels = b.AccessLevels(pairs)
	}
	if err := l.q.Send(ctx, &b); err != nil {
		return err
	}
	if users != nil {
		l.users.fill(userIDs, byKey(*users, func(u store.User) int64 { return u.ID }))
	}
	if refs != nil {
		l.fillRefs(refKeys, *refs)
	}
	if levels != nil {
		found := make(map[store.UserProject]int, len(*levels))
		for _, a := range *levels {
			found[store.UserProject{UserID: a.UserID, ProjectID: a.ProjectID}] = a.Level
		}
		l.access.fill(pairs, found)
	}
	return l.prefetchCommits(ctx)
}

// missing is the keys m knows nothing about.
func missing[K comparable, V any](m memo[K, V], keys []K) []K {
	return slices.DeleteFunc(keys, func(k K) bool { _, ok := m[k]; return ok })
}

// prefetchCommits reads the commits of the refs found that the shared cache
// does not hold.
func (l *lookup) prefetchCommits(ctx context.Context) error {
	var absent []store.ProjectRef
	seen := map[store.ProjectRef]bool{}
	for _, rs := range l.refs {
		if rs == nil {
			continue
		}
		for _, r := range *rs {
			ck := store.ProjectRef{ProjectID: r.ProjectID, Name: r.CommitSHA}
			if !seen[ck] && !l.commits.Contains(ck) {
				seen[ck] = true
				absent = append(absent, ck)
			}
		}
	}
	if len(absent) == 0 {
		return nil
	}
	cs, err := l.q.CommitsIn(ctx, absent)
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
