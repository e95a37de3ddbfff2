package entity

import (
	"crypto/md5"
	"encoding/hex"
	"strings"
	"time"

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

// User is GitLab's User entity: a user's profile as another signed-in user
// sees it (GET /users/:id). This service keeps no profile details, so they
// are empty as for a user who never filled them in.
type User struct {
	UserBasic
	CreatedAt       Time    `json:"created_at"`
	Bio             string  `json:"bio"`
	Location        string  `json:"location"`
	PublicEmail     string  `json:"public_email"`
	Skype           string  `json:"skype"`
	Linkedin        string  `json:"linkedin"`
	Twitter         string  `json:"twitter"`
	Discord         string  `json:"discord"`
	WebsiteURL      string  `json:"website_url"`
	Organization    string  `json:"organization"`
	JobTitle        string  `json:"job_title"`
	Pronouns        *string `json:"pronouns"`
	Bot             bool    `json:"bot"`
	WorkInformation *string `json:"work_information"`
	Followers       int     `json:"followers"`
	Following       int     `json:"following"`
	IsFollowed      bool    `json:"is_followed"`
	LocalTime       *string `json:"local_time"`
}

// Identity is an external identity of a user; this service has none, but
// the field is a list.
type Identity struct {
	Provider  string `json:"provider"`
	ExternUID string `json:"extern_uid"`
}

// UserPublic is GitLab's UserPublic entity: a user as the user itself sees
// it (GET /user).
type UserPublic struct {
	User
	LastSignInAt     *Time      `json:"last_sign_in_at"`
	ConfirmedAt      *Time      `json:"confirmed_at"`
	LastActivityOn   *Date      `json:"last_activity_on"`
	Email            string     `json:"email"`
	ThemeID          int        `json:"theme_id"`
	ColorSchemeID    int        `json:"color_scheme_id"`
	ProjectsLimit    int        `json:"projects_limit"`
	CurrentSignInAt  *Time      `json:"current_sign_in_at"`
	Identities       []Identity `json:"identities"`
	CanCreateGroup   bool       `json:"can_create_group"`
	CanCreateProject bool       `json:"can_create_project"`
	TwoFactorEnabled bool       `json:"two_factor_enabled"`
	External         bool       `json:"external"`
	PrivateProfile   bool       `json:"private_profile"`
	CommitEmail      string     `json:"commit_email"`
}

// UserWithAdmin is GitLab's UserWithAdmin entity: a user as an
// administrator sees it.
type UserWithAdmin struct {
	UserPublic
	IsAdmin     bool       `json:"is_admin"`
	Note        *string    `json:"note"`
	NamespaceID int64      `json:"namespace_id"`
	CreatedBy   *UserBasic `json:"created_by"`
}

// defaultProjectsLimit is GitLab's default projects_limit for new users.
const defaultProjectsLimit = 100000

// NewUser renders a user for another signed-in user.
func NewUser(base string, u store.User) User {
	return User{UserBasic: UserBasicOf(base, u), CreatedAt: TimeOf(u.CreatedAt), Bot: u.Bot}
}

// NewUserPublic renders a user for itself.
func NewUserPublic(base string, u store.User) UserPublic {
	confirmed := TimeOf(u.CreatedAt)
	return UserPublic{
		User: NewUser(base, u), ConfirmedAt: &confirmed, Email: u.Email, ThemeID: 3, ColorSchemeID: 1,
		ProjectsLimit: defaultProjectsLimit, Identities: []Identity{}, CanCreateGroup: true, CanCreateProject: true,
		CommitEmail: u.Email,
	}
}

// NewUserWithAdmin renders a user for an administrator; namespaceID is the
// user's personal namespace.
func NewUserWithAdmin(base string, u store.User, namespaceID int64) UserWithAdmin {
	return UserWithAdmin{UserPublic: NewUserPublic(base, u), IsAdmin: u.IsAdmin, NamespaceID: namespaceID}
}

// PersonalAccessToken is GitLab's PersonalAccessToken entity.
type PersonalAccessToken struct {
	ID          int64    `json:"id"`
	Name        string   `json:"name"`
	Revoked     bool     `json:"revoked"`
	CreatedAt   Time     `json:"created_at"`
	Description *string  `json:"description"`
	Scopes      []string `json:"scopes"`
	UserID      int64    `json:"user_id"`
	LastUsedAt  *Time    `json:"last_used_at"`
	Active      bool     `json:"active"`
	ExpiresAt   *Date    `json:"expires_at"`
}

// PersonalAccessTokenWithToken is the entity of a token just created: the
// only time its text is shown.
type PersonalAccessTokenWithToken struct {
	PersonalAccessToken
	Token string `json:"token"`
}

// NewPersonalAccessToken renders a token; active means neither revoked nor
// past its expiry date at now.
func NewPersonalAccessToken(t store.PersonalAccessToken, now time.Time) PersonalAccessToken {
	now = now.UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	expired := t.ExpiresAt != nil && t.ExpiresAt.Before(today)
	scopes := t.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	return PersonalAccessToken{
		ID: t.ID, Name: t.Name, Revoked: t.Revoked, CreatedAt: TimeOf(t.CreatedAt), Description: t.Description,
		Scopes: scopes, UserID: t.UserID, LastUsedAt: TimePtr(t.LastUsedAt), Active: !t.Revoked && !expired,
		ExpiresAt: DatePtr(t.ExpiresAt),
	}
}
