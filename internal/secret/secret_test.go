package secret

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTriggerTokenFormat(t *testing.T) {
	tok := NewTriggerToken()
	require.Regexp(t, regexp.MustCompile(`^glptt-[0-9a-f]{40}$`), tok)
	require.NotEqual(t, tok, NewTriggerToken())
	require.Equal(t, tok[6:10], ShortToken(tok))
	require.Len(t, Digest(tok), 32)
}

func TestSealRoundTrip(t *testing.T) {
	s, err := NewSealer("k1")
	require.NoError(t, err)
	sealed := s.Seal("glptt-abc")
	got, err := s.Open(sealed)
	require.NoError(t, err)
	require.Equal(t, "glptt-abc", got)

	other, err := NewSealer("k2")
	require.NoError(t, err)
	_, err = other.Open(sealed)
	require.Error(t, err)

	sealed[len(sealed)-1] ^= 1
	_, err = s.Open(sealed)
	require.Error(t, err)
	_, err = NewSealer("")
	require.Error(t, err)
}
