package store

import (
	"context"
	"time"
)

// User is a GitLab user.
type User struct {
	ID        int64     `db:"id"`
	Username  string    `db:"username"`
	Name      string    `db:"name"`
	Email     string    `db:"email"`
	State     string    `db:"state"`
	IsAdmin   bool      `db:"is_admin"`
	Bot       bool      `db:"bot"`
	CreatedAt time.Time `db:"created_at"`
}

// PersonalAccessToken is a user's API token, without its text.
type PersonalAccessToken struct {
	ID         int64      `db:"id"`
	UserID     int64      `db:"user_id"`
	Name       string     `db:"name"`
	Scopes     []string   `db:"scopes"`
	Revoked    bool       `db:"revoked"`
	ExpiresAt  *time.Time `db:"expires_at"`
	LastUsedAt *time.Time `db:"last_used_at"`
	CreatedAt  time.Time  `db:"created_at"`
}

const userColumns = `u.id, u.username, u.name, u.email, u.state, u.is_admin, u.bot, u.created_at`

// UserByID returns one user.
func (q *Queries) UserByID(ctx context.Context, id int64) (User, error) {
	return collectOne[User](q.db.Query(ctx, `SELECT `+userColumns+` FROM users u WHERE u.id = $1`, id))
}

// UserByUsername returns one user by username, case-insensitively.
func (q *Queries) UserByUsername(ctx context.Context, username string) (User, error) {
	return collectOne[User](q.db.Query(ctx, `SELECT `+userColumns+` FROM users u WHERE lower(u.username) = lower($1)`, username))
}

// NewUser is what creating a user needs.
type NewUser struct {
	Username string
	Name     string
	Email    string
	IsAdmin  bool
}

// CreateUser inserts a user and its personal namespace.
func (q *Queries) CreateUser(ctx context.Context, nu NewUser) (User, error) {
	u, err := collectOne[User](q.db.Query(ctx, `INSERT INTO users AS u (username, name, email, is_admin)
		VALUES ($1, $2, $3, $4) RETURNING `+userColumns, nu.Username, nu.Name, nu.Email, nu.IsAdmin))
	if err != nil {
		return User{}, err
	}
	_, err = q.db.Exec(ctx, `INSERT INTO namespaces (kind, name, path, owner_id) VALUES ('user', $1, $2, $3)`,
		nu.Name, nu.Username, u.ID)
	return u, mapErr(err)
}

const patColumns = `t.id, t.user_id, t.name, t.scopes, t.revoked, t.expires_at::timestamptz AS expires_at, t.last_used_at, t.created_at`

// UserByPersonalToken finds the active, unexpired token with the given digest
// and its user.
func (q *Queries) UserByPersonalToken(ctx context.Context, digest []byte) (User, PersonalAccessToken, error) {
	type row struct {
		PersonalAccessToken
		UID      int64     `db:"uid"`
		Username string    `db:"username"`
		UName    string    `db:"uname"`
		Email    string    `db:"email"`
		State    string    `db:"state"`
		IsAdmin  bool      `db:"is_admin"`
		Bot      bool      `db:"bot"`
		UCreated time.Time `db:"ucreated"`
	}
	r, err := collectOne[row](q.db.Query(ctx, `SELECT `+patColumns+`,
			u.id AS uid, u.username, u.name AS uname, u.email, u.state, u.is_admin, u.bot, u.created_at AS ucreated
		FROM personal_access_tokens t JOIN users u ON u.id = t.user_id
		WHERE t.digest = $1 AND NOT t.revoked AND (t.expires_at IS NULL OR t.expires_at >= current_date)`, digest))
	if err != nil {
		return User{}, PersonalAccessToken{}, err
	}
	return User{ID: r.UID, Username: r.Username, Name: r.UName, Email: r.Email, State: r.State, IsAdmin: r.IsAdmin, Bot: r.Bot, CreatedAt: r.UCreated},
		r.PersonalAccessToken, nil
}

// CreatePersonalToken stores a token for a user by digest.
func (q *Queries) CreatePersonalToken(ctx context.Context, userID int64, name string, digest []byte, scopes []string, expiresAt *time.Time) (PersonalAccessToken, error) {
	return collectOne[PersonalAccessToken](q.db.Query(ctx, `INSERT INTO personal_access_tokens AS t (user_id, name, digest, scopes, expires_at)
		VALUES ($1, $2, $3, $4, $5::date) RETURNING `+patColumns, userID, name, digest, scopes, expiresAt))
}

// EnsureAdmin makes sure the bootstrap administrator exists and that token
// digest authenticates as it. It is safe to call from several processes at
// once.
func (q *Queries) EnsureAdmin(ctx context.Context, digest []byte) (User, error) {
	_, err := q.db.Exec(ctx, `
		WITH u AS (
			INSERT INTO users (username, name, email, is_admin) VALUES ('root', 'Administrator', 'admin@example.com', true)
			ON CONFLICT DO NOTHING RETURNING id, username, name)
		INSERT INTO namespaces (kind, name, path, owner_id) SELECT 'user', name, username, id FROM u
		ON CONFLICT DO NOTHING`)
	if err != nil {
		return User{}, mapErr(err)
	}
	u, err := q.UserByUsername(ctx, "root")
	if err != nil {
		return User{}, err
	}
	_, err = q.db.Exec(ctx, `INSERT INTO personal_access_tokens (user_id, name, digest, scopes)
		VALUES ($1, 'bootstrap admin token', $2, ARRAY['api','sudo','admin_mode'])
		ON CONFLICT (digest) DO NOTHING`, u.ID, digest)
	return u, mapErr(err)
}
