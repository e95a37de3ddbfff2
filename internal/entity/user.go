package entity

import (
	"crypto/md5"
	"encoding/hex"
	"strings"

	"github.com/triggerd/triggerd/internal/store"
)

// UserBasic is GitLab's UserBasic entity, embedded in pipelines, jobs and
// tokens.
type UserBasic struct {
	ID        int64  `json:"id"`
	Username  string `json:"username"`
	Name      string `json:"name"`
	State     string `json:"state"`
	Locked    bool   `json:"locked"`
	AvatarURL string `json:"avatar_url"`
	WebURL    string `json:"web_url"`
}

// NewUserBasic renders a user.
func NewUserBasic(base string, id int64, username, name, state string) UserBasic {
	return UserBasic{
		ID: id, Username: username, Name: name, State: state, Locked: state == "blocked",
		AvatarURL: avatarURL(username), WebURL: base + "/" + username,
	}
}

// UserBasicOf renders a store user.
func UserBasicOf(base string, u store.User) UserBasic {
	return NewUserBasic(base, u.ID, u.Username, u.Name, u.State)
}

// userBasicPtr renders a joined, possibly absent user.
func userBasicPtr(base string, id *int64, username, name, state *string) *UserBasic {
	if id == nil || username == nil {
		return nil
	}
	ub := NewUserBasic(base, *id, *username, deref(name), deref(state))
	return &ub
}

func avatarURL(username string) string {
	sum := md5.Sum([]byte(strings.ToLower(username)))
	return "https://www.gravatar.com/avatar/" + hex.EncodeToString(sum[:]) + "?s=80&d=identicon"
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
