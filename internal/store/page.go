package store

// Page is a 1-based page of a list, as GitLab's page/per_page parameters
// select it.
type Page struct {
	Number  int
	PerPage int
}

// Limit is the SQL LIMIT of the page.
func (p Page) Limit() int { return p.PerPage }

// Offset is the SQL OFFSET of the page.
func (p Page) Offset() int { return (p.Number - 1) * p.PerPage }
