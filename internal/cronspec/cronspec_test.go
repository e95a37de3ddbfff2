package cronspec

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func utc(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, time.UTC)
}

func TestNext(t *testing.T) {
	cases := []struct {
		name  string
		cron  string
		zone  string
		after time.Time
		want  []time.Time // successive runs
	}{
		{"every minute", "* * * * *", "UTC", utc(2026, 5, 19, 13, 40),
			[]time.Time{utc(2026, 5, 19, 13, 41), utc(2026, 5, 19, 13, 42)}},
		{"weekly on Friday (GitLab's example)", "0 1 * * 5", "UTC", utc(2026, 5, 19, 13, 43),
			[]time.Time{utc(2026, 5, 22, 1, 0), utc(2026, 5, 29, 1, 0)}},
		{"surrounding spaces are stripped", "  0 1 * * *\n", "UTC", utc(2026, 1, 1, 0, 0),
			[]time.Time{utc(2026, 1, 1, 1, 0)}},
		{"day names and steps", "*/20 9-10 * * MON-FRI", "UTC", utc(2026, 5, 22, 10, 50),
			[]time.Time{utc(2026, 5, 25, 9, 0), utc(2026, 5, 25, 9, 20)}},
		{"Tokyo is nine hours ahead", "0 9 * * *", "Asia/Tokyo", utc(2026, 5, 19, 0, 0),
			[]time.Time{utc(2026, 5, 20, 0, 0), utc(2026, 5, 21, 0, 0)}},
		{"Rails zone name", "0 9 * * *", "Pacific Time (US & Canada)", utc(2026, 1, 10, 0, 0),
			[]time.Time{utc(2026, 1, 10, 17, 0)}},
		{"Rails UTC", "0 9 * * *", "UTC", utc(2026, 1, 10, 0, 0), []time.Time{utc(2026, 1, 10, 9, 0)}},
		{"Etc/UTC", "0 9 * * *", "Etc/UTC", utc(2026, 1, 10, 0, 0), []time.Time{utc(2026, 1, 10, 9, 0)}},
		{"29 February waits for a leap year", "0 0 29 2 *", "UTC", utc(2026, 3, 1, 0, 0),
			[]time.Time{utc(2028, 2, 29, 0, 0)}},

		// Descriptors.
		{"@hourly", "@hourly", "UTC", utc(2026, 5, 19, 13, 40), []time.Time{utc(2026, 5, 19, 14, 0)}},
		{"@daily", "@daily", "UTC", utc(2026, 5, 19, 13, 40), []time.Time{utc(2026, 5, 20, 0, 0)}},
		{"@midnight in Berlin", "@midnight", "Europe/Berlin", utc(2026, 5, 19, 13, 40), []time.Time{utc(2026, 5, 19, 22, 0)}},
		{"@weekly", "@weekly", "UTC", utc(2026, 5, 19, 13, 40), []time.Time{utc(2026, 5, 24, 0, 0)}},
		{"@monthly", "@monthly", "UTC", utc(2026, 5, 19, 13, 40), []time.Time{utc(2026, 6, 1, 0, 0)}},
		{"@yearly", "@yearly", "UTC", utc(2026, 5, 19, 13, 40), []time.Time{utc(2027, 1, 1, 0, 0)}},
		{"@annually", "@annually", "UTC", utc(2026, 5, 19, 13, 40), []time.Time{utc(2027, 1, 1, 0, 0)}},

		// Daylight saving time. New York springs forward on 8 March 2026
		// (02:00 EST becomes 03:00 EDT) and falls back on 1 November 2026
		// (02:00 EDT becomes 01:00 EST); Berlin springs forward on 29 March.
		{"09:00 Berlin across spring forward", "0 9 * * *", "Europe/Berlin", utc(2026, 3, 28, 12, 0),
			[]time.Time{utc(2026, 3, 29, 7, 0), utc(2026, 3, 30, 7, 0)}},
		{"09:00 New York across fall back", "0 9 * * *", "America/New_York", utc(2026, 10, 31, 12, 0),
			[]time.Time{utc(2026, 10, 31, 13, 0), utc(2026, 11, 1, 14, 0), utc(2026, 11, 2, 14, 0)}},
		{"a skipped wall time does not fire that day", "30 2 * * *", "America/New_York", utc(2026, 3, 7, 12, 0),
			[]time.Time{utc(2026, 3, 9, 6, 30), utc(2026, 3, 10, 6, 30)}},
		{"a repeated wall time fires once", "30 1 * * *", "America/New_York", utc(2026, 10, 31, 12, 0),
			[]time.Time{utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)}},
		{"an hourly schedule runs in real time through the repeated hour", "30 * * * *", "America/New_York",
			utc(2026, 11, 1, 5, 0), []time.Time{utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 30), utc(2026, 11, 1, 7, 30)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse(tc.cron, tc.zone)
			require.NoError(t, err)
			at := tc.after
			for _, want := range tc.want {
				got := s.Next(at)
				require.Equal(t, want, got, "after %s", at)
				require.Equal(t, time.UTC, got.Location())
				at = got
			}
			got, err := Next(tc.cron, tc.zone, tc.after)
			require.NoError(t, err)
			require.Equal(t, tc.want[0], got)
		})
	}
}

func TestParseInvalid(t *testing.T) {
	cases := []struct {
		name           string
		cron, zone     string
		badCron, badTZ bool
	}{
		{"empty cron", "", "UTC", true, false},
		{"blank cron", "   ", "UTC", true, false},
		{"words", "invalid-cron", "UTC", true, false},
		{"four fields", "0 1 * *", "UTC", true, false},
		{"six fields (seconds)", "0 0 1 * * *", "UTC", true, false},
		{"minute out of range", "60 * * * *", "UTC", true, false},
		{"hour out of range", "0 24 * * *", "UTC", true, false},
		{"never fires", "0 0 30 2 *", "UTC", true, false},
		{"@every interval", "@every 1h", "UTC", true, false},
		{"unknown descriptor", "@fortnightly", "UTC", true, false},
		{"zone prefix", "CRON_TZ=Asia/Tokyo 0 1 * * *", "UTC", true, false},
		{"TZ prefix", "TZ=Asia/Tokyo 0 1 * * *", "UTC", true, false},
		{"empty zone", "* * * * *", "", false, true},
		{"unknown zone", "* * * * *", "Mars/Olympus_Mons", false, true},
		{"server-local zone", "* * * * *", "Local", false, true},
		{"zone case matters", "* * * * *", "asia/tokyo", false, true},
		{"path in zone", "* * * * *", "../etc/passwd", false, true},
		{"both", "nope", "Nowhere", true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.cron, tc.zone)
			require.Error(t, err)
			require.Equal(t, tc.badCron, errors.Is(err, ErrInvalidCron), err)
			require.Equal(t, tc.badTZ, errors.Is(err, ErrInvalidTimezone), err)
			_, err = Next(tc.cron, tc.zone, utc(2026, 1, 1, 0, 0))
			require.Error(t, err)
		})
	}
}

// Every Rails zone name GitLab accepts resolves in the embedded database.
func TestRailsZonesLoad(t *testing.T) {
	require.Len(t, railsZones, 151)
	for name, id := range railsZones {
		loc, err := LoadZone(name)
		require.NoError(t, err, name)
		require.Equal(t, id, loc.String(), name)
	}
	loc, err := LoadZone("America/Los_Angeles")
	require.NoError(t, err)
	require.Equal(t, "America/Los_Angeles", loc.String())
}
