// Package secret makes and protects the service's tokens: personal access
// tokens, pipeline trigger tokens and CI job tokens. Tokens are found by the
// SHA-256 digest of their text, so the text is never stored; trigger tokens are
// additionally sealed with AES-GCM so that their owner can read them again.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Token prefixes, as GitLab uses them, so that secret scanners recognise them.
const (
	PersonalPrefix = "glpat-"
	TriggerPrefix  = "glptt-"
	JobPrefix      = "glcbt-"
)

// NewTriggerToken returns a fresh pipeline trigger token: the prefix and 40
// hexadecimal characters (160 random bits).
func NewTriggerToken() string { return TriggerPrefix + randomHex(20) }

// NewPersonalToken returns a fresh personal access token.
func NewPersonalToken() string { return PersonalPrefix + randomHex(16) }

// NewJobToken returns a fresh CI job token.
func NewJobToken() string { return JobPrefix + randomHex(24) }

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		// crypto/rand never fails on supported platforms; a failure means
		// the process cannot make secrets at all.
		panic("secret: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// Digest is the lookup key of a token: its SHA-256.
func Digest(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// ShortToken is what users who do not own a trigger token see of it: its first
// four characters after the prefix.
func ShortToken(token string) string {
	rest := strings.TrimPrefix(token, TriggerPrefix)
	if len(rest) > 4 {
		rest = rest[:4]
	}
	return rest
}

// Sealer encrypts and decrypts stored secrets with AES-256-GCM. It is safe for
// concurrent use.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer derives a 256-bit key from key (any non-empty string; a long
// random one is expected in production).
func NewSealer(key string) (*Sealer, error) {
	if key == "" {
		return nil, errors.New("secret: empty key")
	}
	k := sha256.Sum256([]byte(key))
	block, err := aes.NewCipher(k[:])
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plain; the nonce is prepended to the result.
func (s *Sealer) Seal(plain string) []byte {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic("secret: crypto/rand failed: " + err.Error())
	}
	return s.aead.Seal(nonce, nonce, []byte(plain), nil)
}

// Open decrypts what Seal produced. It fails if the data was tampered with or
// sealed under another key.
func (s *Sealer) Open(sealed []byte) (string, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return "", errors.New("secret: sealed value too short")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], nil)
	if err != nil {
		return "", fmt.Errorf("secret: open: %w", err)
	}
	return string(plain), nil
}
