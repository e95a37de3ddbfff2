package worker

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/triggerd/triggerd/internal/event"
	"github.com/triggerd/triggerd/internal/store"
)

var slugInvalid = regexp.MustCompile(`[^a-z0-9]+`)

// refSlug is CI_COMMIT_REF_SLUG: lowercased, anything but a-z and 0-9
// replaced by '-', at most 63 bytes, no leading or trailing '-'.
func refSlug(ref string) string {
	s := slugInvalid.ReplaceAllString(strings.ToLower(ref), "-")
	if len(s) > 63 {
		s = s[:63]
	}
	return strings.Trim(s, "-")
}

// predefined are the predefined CI/CD variables known when a pipeline is
// created, which rules and only/except may test. Job-specific ones
// (CI_JOB_ID, CI_JOB_TOKEN...) are added when a job runs.
func predefined(p store.Project, c store.Commit, ref store.Ref, user *store.User, ev *event.TriggerRequested, shortToken string) map[string]string {
	v := map[string]string{
		"CI":                    "true",
		"GITLAB_CI":             "true",
		"CI_PIPELINE_SOURCE":    ev.Source,
		"CI_COMMIT_REF_NAME":    ref.Name,
		"CI_COMMIT_REF_SLUG":    refSlug(ref.Name),
		"CI_COMMIT_SHA":         c.SHA,
		"CI_COMMIT_SHORT_SHA":   c.SHA[:8],
		"CI_COMMIT_BEFORE_SHA":  "0000000000000000000000000000000000000000",
		"CI_COMMIT_MESSAGE":     c.Message,
		"CI_COMMIT_TITLE":       c.Title,
		"CI_COMMIT_AUTHOR":      c.AuthorName + " <" + c.AuthorEmail + ">",
		"CI_PROJECT_ID":         strconv.FormatInt(p.ID, 10),
		"CI_PROJECT_NAME":       p.Path,
		"CI_PROJECT_TITLE":      p.Name,
		"CI_PROJECT_PATH":       p.PathWithNamespace,
		"CI_PROJECT_PATH_SLUG":  refSlug(p.PathWithNamespace),
		"CI_PROJECT_NAMESPACE":  p.NamespacePath,
		"CI_PROJECT_VISIBILITY": p.Visibility,
		"CI_CONFIG_PATH":        p.CIConfigPath,
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
