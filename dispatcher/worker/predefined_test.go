package worker

import (
	"strings"
	"testing"
	"time"

	"github.com/triggerd/triggerd/internal/event"
	"github.com/triggerd/triggerd/internal/store"
)

// GitLab's Gitlab::Utils.slugify: each character outside a-z0-9 becomes
// one '-', the result is cut to 63 characters and then loses its leading
// and trailing '-'.
func TestRefSlug(t *testing.T) {
	for _, tc := range []struct{ ref, want string }{
		{"main", "main"},
		{"Feature/Login", "feature-login"},
		{"feature/foo__bar", "feature-foo--bar"},
		{"release/v1.2.3", "release-v1-2-3"},
		{"--weird--", "weird"},
		{"_/_", ""},
		{"Ünïcode-Straße", "n-code-stra-e"},
		{"my-group/my.project", "my-group-my-project"},
		{"KELVIN\u212A", "kelvink"},
		// 63 characters are kept, then the trailing '-' of the cut goes.
		{"abcdefghij-bcdefghij-bcdefghij-bcdefghij-bcdefghij-bcdefghij-bc-xyz", "abcdefghij-bcdefghij-bcdefghij-bcdefghij-bcdefghij-bcdefghij-bc"},
		{"abcdefghij-bcdefghij-bcdefghij-bcdefghij-bcdefghij-bcdefghij-b-xyz", "abcdefghij-bcdefghij-bcdefghij-bcdefghij-bcdefghij-bcdefghij-b"},
		// A multi-byte character counts once, as in Ruby.
		{"ééé" + "abcdefghij-bcdefghij-bcdefghij-bcdefghij-bcdefghij-bcdefghijxyz", "abcdefghij-bcdefghij-bcdefghij-bcdefghij-bcdefghij-bcdefghij"},
	} {
		if got := refSlug(tc.ref); got != tc.want {
			t.Errorf("refSlug(%q) = %q, want %q", tc.ref, got, tc.want)
		}
	}
}

func TestPredefinedCommitRefAndNamespace(t *testing.T) {
	p := store.Project{ID: 7, NamespaceID: 3, NamespacePath: "platform", Path: "api", PathWithNamespace: "platform/api"}
	c := store.Commit{SHA: "0123456789abcdef0123456789abcdef01234567", Title: "Fix login", Message: "Fix login\n\nThe session expired early.\n",
		CommittedDate: time.Date(2026, 11, 30, 12, 30, 5, 0, time.FixedZone("CET", 3600))}
	ev := &event.TriggerRequested{Source: "trigger"}
	v := predefined(p, c, store.Ref{Kind: "branch", Name: "main", Protected: true}, nil, ev, "4d2c")
	for k, want := range map[string]string{
		"CI_COMMIT_REF_PROTECTED":   "true",
		"CI_COMMIT_DESCRIPTION":     "\nThe session expired early.",
		"CI_COMMIT_TIMESTAMP":       "2026-11-30T11:30:05Z",
		"CI_PROJECT_NAMESPACE_ID":   "3",
		"CI_PROJECT_ROOT_NAMESPACE": "platform",
		"CI_PROJECT_PATH_SLUG":      "platform-api",
	} {
		if v[k] != want {
			t.Errorf("%s = %q, want %q", k, v[k], want)
		}
	}
	if v := predefined(p, c, store.Ref{Kind: "tag", Name: "v1"}, nil, ev, ""); v["CI_COMMIT_REF_PROTECTED"] != "false" {
		t.Errorf("unprotected tag: CI_COMMIT_REF_PROTECTED = %q, want false", v["CI_COMMIT_REF_PROTECTED"])
	}
}

// GitLab's CI_COMMIT_DESCRIPTION: the message without its title line,
// unless the title is 100 characters or more.
func TestCommitDescription(t *testing.T) {
	long := strings.Repeat("x", 100)
	for _, tc := range []struct{ message, want string }{
		{"One line", ""},
		{"One line\n", ""},
		{"Title\nBody line\n", "Body line"},
		{"Title\n\nBody\nmore\n", "\nBody\nmore"},
		{long + "\nBody\n", long + "\nBody\n"},
		{strings.Repeat("x", 99) + "\nBody", "Body"},
	} {
		if got := commitDescription(tc.message); got != tc.want {
			t.Errorf("commitDescription(%q) = %q, want %q", tc.message, got, tc.want)
		}
	}
}
