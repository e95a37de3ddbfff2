package store

import (
	"context"
	"strings"
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
	ID          int64      `db:"id"`
	UserID      int64      `db:"user_id"`
	Name        string     `db:"name"`
	Description *string    `db:"description"`
	Scopes      []string   `db:"scopes"`
	Revoked     bool       `db:"revoked"`
	ExpiresAt   *time.Time `db:"expires_at"`
	LastUsedAt  *time.Time `db:"last_used_at"`
	CreatedAt   time.Time  `db:"created_at"`
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

const patColumns = `t.id, t.user_id, t.name, t.description, t.scopes, t.revoked, t.expires_at, t.last_used_at, t.created_at`

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
	return q.InsertPersonalToken(ctx, NewPersonalToken{UserID: userID, Name: name, Digest: digest, Scopes: scopes, ExpiresAt: expiresAt})
}

// NewPersonalToken is what creating a personal access token needs.
type NewPersonalToken struct {
	UserID      int64
	Name        string
	Description *string
	Digest      []byte
	Scopes      []string
	// ExpiresAt is a calendar date; the token is valid through that day.
	ExpiresAt *time.Time
}

// InsertPersonalToken stores a token by digest, with every field GitLab's
// API accepts.
func (q *Queries) InsertPersonalToken(ctx context.Context, nt NewPersonalToken) (PersonalAccessToken, error) {
	return collectOne[PersonalAccessToken](q.db.Query(ctx, `INSERT INTO personal_access_tokens AS t
		(user_id, name, description, digest, scopes, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6::date) RETURNING `+patColumns,
		nt.UserID, nt.Name, nt.Description, nt.Digest, nt.Scopes, calendarDate(nt.ExpiresAt)))
}

// calendarDate passes a calendar date as text, so that the session's time zone
// cannot move it to the day before.
func calendarDate(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := t.Format("2006-01-02")
	return &s
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

// UserFilter selects users as GitLab's GET /users does.
type UserFilter struct {
	// Username matches exactly, case-insensitively.
	Username string
	// Search matches username, name or email anywhere, case-insensitively.
	Search string
	// Active and Blocked keep only users in that state.
	Active  bool
	Blocked bool
}

// ListUsers returns a page of the users f selects, newest first as GitLab
// orders them, and how many it selects in all.
func (q *Queries) ListUsers(ctx context.Context, f UserFilter, page Page) ([]User, int, error) {
	const where = ` WHERE ($1 = '' OR lower(u.username) = lower($1))
		AND ($2 = '' OR u.username ILIKE $2 ESCAPE '\' OR u.name ILIKE $2 ESCAPE '\' OR u.email ILIKE $2 ESCAPE '\')
		AND (NOT $3 OR u.state = 'active') AND (NOT $4 OR u.state = 'blocked')`
	search := ilikeContains(f.Search)
	var total int
	if err := q.db.QueryRow(ctx, `SELECT count(*) FROM users u`+where, f.Username, search, f.Active, f.Blocked).Scan(&total); err != nil {
		return nil, 0, mapErr(err)
	}
	users, err := collectAll[User](q.db.Query(ctx, `SELECT `+userColumns+` FROM users u`+where+`
		ORDER BY u.id DESC LIMIT $5 OFFSET $6`, f.Username, search, f.Active, f.Blocked, page.Limit(), page.Offset()))
	return users, total, err
}

// ilikeContains makes a case-insensitive "contains" pattern of term, or ""
// for no term.
func ilikeContains(term string) string {
	if term == "" {
		return ""
	}
	return "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(term) + "%"
}

// UserTaken reports which of an email and a username another user already
// has, and whether the username is taken by a namespace (a group's path),
// for GitLab's "has already been taken" answers.
func (q *Queries) UserTaken(ctx context.Context, email, username string) (emailTaken, usernameTaken, pathTaken bool, err error) {
	err = q.db.QueryRow(ctx, `SELECT
			EXISTS (SELECT 1 FROM users WHERE lower(email) = lower($1)),
			EXISTS (SELECT 1 FROM users WHERE lower(username) = lower($2)),
			EXISTS (SELECT 1 FROM namespaces WHERE lower(path) = lower($2))`, email, username).
		Scan(&emailTaken, &usernameTaken, &pathTaken)
	return emailTaken, usernameTaken, pathTaken, mapErr(err)
}

// PersonalNamespaceIDs returns the ids of the given users' personal
// namespaces, by user id.
func (q *Queries) PersonalNamespaceIDs(ctx context.Context, userIDs []int64) (map[int64]int64, error) {
	rows, err := q.db.Query(ctx, `SELECT owner_id, id FROM namespaces WHERE kind = 'user' AND owner_id = ANY($1)`, userIDs)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := make(map[int64]int64, len(userIDs))
	for rows.Next() {
		var owner, id int64
		if err := rows.Scan(&owner, &id); err != nil {
			return nil, mapErr(err)
		}
		out[owner] = id
	}
	return out, mapErr(rows.Err())
}

// PersonalTokenFilter selects personal access tokens as GitLab's GET
// /personal_access_tokens does.
type PersonalTokenFilter struct {
	// UserID keeps one user's tokens; nil keeps everyone's.
	UserID *int64
	// Revoked, when set, keeps revoked (true) or unrevoked (false) tokens.
	Revoked *bool
	// State is "active" (neither revoked nor expired), "inactive", or ""
	// for both.
	State string
	// Search matches the name anywhere, case-insensitively.
	Search string
}

// ListPersonalTokens returns a page of the tokens f selects, oldest first,
// and how many it selects in all.
func (q *Queries) ListPersonalTokens(ctx context.Context, f PersonalTokenFilter, page Page) ([]PersonalAccessToken, int, error) {
	const where = ` WHERE ($1::bigint IS NULL OR t.user_id = $1) AND ($2::boolean IS NULL OR t.revoked = $2)
		AND ($3 = '' OR ($3 = 'active') = (NOT t.revoked AND (t.expires_at IS NULL OR t.expires_at >= current_date)))
		AND ($4 = '' OR t.name ILIKE $4 ESCAPE '\')`
	search := ilikeContains(f.Search)
	var total int
	if err := q.db.QueryRow(ctx, `SELECT count(*) FROM personal_access_tokens t`+where,
		f.UserID, f.Revoked, f.State, search).Scan(&total); err != nil {
		return nil, 0, mapErr(err)
	}
	ts, err := collectAll[PersonalAccessToken](q.db.Query(ctx, `SELECT `+patColumns+` FROM personal_access_tokens t`+where+`
		ORDER BY t.id LIMIT $5 OFFSET $6`, f.UserID, f.Revoked, f.State, search, page.Limit(), page.Offset()))
	return ts, total, err
}

// PersonalTokenByID returns one personal access token.
func (q *Queries) PersonalTokenByID(ctx context.Context, id int64) (PersonalAccessToken, error) {
	return collectOne[PersonalAccessToken](q.db.Query(ctx, `SELECT `+patColumns+` FROM personal_access_tokens t WHERE t.id = $1`, id))
}
