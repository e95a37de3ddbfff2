package worker

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/triggerd/triggerd/internal/event"
	"github.com/triggerd/triggerd/internal/store"
)

// refSlug is GitLab's slug of a ref or a path (CI_COMMIT_REF_SLUG,
// CI_PROJECT_PATH_SLUG): lowercased, every character but a-z and 0-9
// replaced by its own '-' (a run of them is not merged into one), cut to
// 63 bytes, with no leading or trailing '-'.
func refSlug(ref string) string {
	const maxLen = 63
	b := make([]byte, 0, min(len(ref), maxLen))
	for _, r := range strings.ToLower(ref) {
		if len(b) == maxLen {
			break
		}
		if 'a' <= r && r <= 'z' || '0' <= r && r <= '9' {
			b = append(b, byte(r))
		} else {
			b = append(b, '-')
		}
	}
	return strings.Trim(string(b), "-")
}

// commitDescription is CI_COMMIT_DESCRIPTION: the message without its
// first line, or the whole message when that line (the title) is 100
// characters or longer.
func commitDescription(message string) string {
	title, rest, _ := strings.Cut(message, "\n")
	if utf8.RuneCountInString(title) >= 100 {
		return message
	}
	return strings.TrimSuffix(rest, "\n")
}

// predefined are the predefined CI/CD variables of a pipeline: made when it
// is created, for rules and only/except to test, and again when each of its
// jobs runs (runPredefined). Job-specific ones (CI_JOB_ID, CI_JOB_TOKEN...)
// are added when a job runs.
func predefined(p store.Project, c store.Commit, ref store.Ref, user *store.User, ev *event.TriggerRequested, shortToken string) map[string]string {
	v := map[string]string{
		"CI":                        "true",
		"GITLAB_CI":                 "true",
		"CI_PIPELINE_SOURCE":        ev.Source,
		"CI_COMMIT_REF_NAME":        ref.Name,
		"CI_COMMIT_REF_SLUG":        refSlug(ref.Name),
		"CI_COMMIT_SHA":             c.SHA,
		"CI_COMMIT_SHORT_SHA":       c.SHA[:8],
		"CI_COMMIT_BEFORE_SHA":      "0000000000000000000000000000000000000000",
		"CI_COMMIT_MESSAGE":         c.Message,
		"CI_COMMIT_TITLE":           c.Title,
		"CI_COMMIT_AUTHOR":          c.AuthorName + " <" + c.AuthorEmail + ">",
		"CI_COMMIT_DESCRIPTION":     commitDescription(c.Message),
		"CI_COMMIT_REF_PROTECTED":   strconv.FormatBool(ref.Protected),
		"CI_PROJECT_ID":             strconv.FormatInt(p.ID, 10),
		"CI_PROJECT_NAME":           p.Path,
		"CI_PROJECT_TITLE":          p.Name,
		"CI_PROJECT_PATH":           p.PathWithNamespace,
		"CI_PROJECT_PATH_SLUG":      refSlug(p.PathWithNamespace),
		"CI_PROJECT_NAMESPACE":      p.NamespacePath,
		"CI_PROJECT_NAMESPACE_ID":   strconv.FormatInt(p.NamespaceID, 10),
		"CI_PROJECT_ROOT_NAMESPACE": strings.SplitN(p.NamespacePath, "/", 2)[0],
		"CI_PROJECT_VISIBILITY":     p.Visibility,
		"CI_CONFIG_PATH":            p.CIConfigPath,
	}
	if !c.CommittedDate.IsZero() {
		v["CI_COMMIT_TIMESTAMP"] = c.CommittedDate.UTC().Format(time.RFC3339)
	}
	if p.DefaultBranch != nil {
		v["CI_DEFAULT_BRANCH"] = *p.DefaultBranch
	}
	if ref.Kind == "tag" {
		v["CI_COMMIT_TAG"] = ref.Name
		v["CI_COMMIT_TAG_MESSAGE"] = ref.Message
	} else {
		v["CI_COMMIT_BRANCH"] = ref.Name
	}
	if ev.Source == "trigger" {
		v["CI_PIPELINE_TRIGGERED"] = "true"
		v["CI_TRIGGER_SHORT_TOKEN"] = shortToken
		if len(ev.Payload) > 0 {
			v["TRIGGER_PAYLOAD"] = string(ev.Payload)
		}
	}
	if user != nil {
		v["GITLAB_USER_ID"] = strconv.FormatInt(user.ID, 10)
		v["GITLAB_USER_LOGIN"] = user.Username
		v["GITLAB_USER_NAME"] = user.Name
		v["GITLAB_USER_EMAIL"] = user.Email
	}
	return v
}

// runPredefined makes the predefined variables of rc's pipeline as its job
// runs, from what the pipeline names: its project and user as they are now
// (as GitLab's are), its commit, its ref, its trigger. A pipeline created
// when they were stored instead keeps those.
func runPredefined(ctx context.Context, q *store.Queries, rc *store.RunContext) error {
	if rc.PredefinedVariables != nil {
		return nil
	}
	f := rc.Pipeline
	project, err := q.ProjectByID(ctx, f.ProjectID)
	if err != nil {
		return err
	}
	commit, err := q.CommitBySHA(ctx, f.ProjectID, f.SHA)
	switch {
	case errors.Is(err, store.ErrNotFound):
		commit = store.Commit{ProjectID: f.ProjectID, SHA: f.SHA}
	case err != nil:
		return err
	}
	kind := "branch"
	if f.Tag {
		kind = "tag"
	}
	// The ref may have moved or gone since; only its name, kind and (for a
	// tag) message are used.
	ref, err := q.RefByName(ctx, f.ProjectID, kind, f.Ref)
	switch {
	case errors.Is(err, store.ErrNotFound):
		ref = store.Ref{ProjectID: f.ProjectID, Kind: kind, Name: f.Ref, CommitSHA: f.SHA}
	case err != nil:
		return err
	}
	var user *store.User
	if f.UserID != nil {
		u, err := q.UserByID(ctx, *f.UserID)
		switch {
		case err == nil:
			user = &u
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
	}
	ev := &event.TriggerRequested{Source: f.Source}
	if f.Payload != nil {
		ev.Payload = json.RawMessage(*f.Payload)
	}
	var shortToken string
	if f.ShortToken != nil {
		shortToken = *f.ShortToken
	}
	rc.PredefinedVariables = predefined(project, commit, ref, user, ev, shortToken)
	return nil
}
