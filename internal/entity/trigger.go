package entity

import (
	"github.com/triggerd/triggerd/internal/store"
)

// Trigger is GitLab's Trigger entity. Token is the full token for its owner
// and admins, else the first four characters after the prefix.
type Trigger struct {
	ID          int64      `json:"id"`
	Token       string     `json:"token"`
	Description string     `json:"description"`
	CreatedAt   Time       `json:"created_at"`
	UpdatedAt   Time       `json:"updated_at"`
	LastUsed    *Time      `json:"last_used"`
	ExpiresAt   *Time      `json:"expires_at"`
	Owner       *UserBasic `json:"owner"`
}

// NewTrigger renders a trigger token; token is what the viewer may see of it.
func NewTrigger(t store.Trigger, token string, owner *UserBasic) Trigger {
	return Trigger{
		ID: t.ID, Token: token, Description: t.Description, CreatedAt: TimeOf(t.CreatedAt), UpdatedAt: TimeOf(t.UpdatedAt),
		LastUsed: TimePtr(t.LastUsed), ExpiresAt: TimePtr(t.ExpiresAt), Owner: owner,
	}
}
