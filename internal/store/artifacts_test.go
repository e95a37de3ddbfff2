package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/triggerd/triggerd/internal/store"
)

// The artifacts:expire_in examples of GitLab's CI/CD YAML reference.
func TestParseExpireIn(t *testing.T) {
	day := 24 * time.Hour
	for in, want := range map[string]time.Duration{
		"42":                  42 * time.Second,
		"42 seconds":          42 * time.Second,
		"3 mins 4 sec":        3*time.Minute + 4*time.Second,
		"2 hrs 20 min":        2*time.Hour + 20*time.Minute,
		"2h20min":             2*time.Hour + 20*time.Minute,
		"6 mos 1 day":         6*30*day + day,
		"47 yrs 6 mos and 4d": time.Duration(47*365.25*float64(day)) + 6*30*day + 4*day,
		"3 weeks and 2 days":  23 * day,
		"1 week":              7 * day,
		"1.5 hours":           90 * time.Minute,
		" 30 Days ":           30 * day,
	} {
		d, never, err := store.ParseExpireIn(in)
		require.NoError(t, err, in)
		require.False(t, never, in)
		require.Equal(t, want, d, in)
	}
	_, never, err := store.ParseExpireIn("never")
	require.NoError(t, err)
	require.True(t, never)
	for _, bad := range []string{"", "soon", "3 parsecs", "-1", "days 3", "1e400"} {
		_, _, err := store.ParseExpireIn(bad)
		require.Error(t, err, bad)
	}
}
