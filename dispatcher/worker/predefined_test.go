package worker

import "testing"

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
