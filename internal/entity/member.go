package entity

import (
	"github.com/triggerd/triggerd/internal/store"
)

// Member is GitLab's Member entity: the member's UserBasic fields followed
// by its membership.
type Member struct {
	UserBasic
	AccessLevel     int    `json:"access_level"`
	CreatedAt       Time   `json:"created_at"`
	ExpiresAt       *Date  `json:"expires_at"`
	MembershipState string `json:"membership_state"`
}

// NewMember renders a membership.
func NewMember(base string, m store.Member) Member {
	return Member{
		UserBasic:   NewUserBasic(base, m.UserID, m.Username, m.Name, m.State),
		AccessLevel: m.AccessLevel, CreatedAt: TimeOf(m.CreatedAt), ExpiresAt: DatePtr(m.ExpiresAt),
		MembershipState: "active",
	}
}
