package api

import (
	"net/http"
	"strconv"

	"github.com/triggerd/triggerd/internal/store"
)

// maxPerPage is GitLab's upper bound for per_page.
const maxPerPage = 100

// pageOf reads page and per_page as GitLab does: defaults 1 and 20, per_page
// capped at 100, nonsense values fall back to the defaults.
func pageOf(r *http.Request) store.Page {
	q := r.URL.Query()
	page, err := strconv.Atoi(q.Get("page"))
	if err != nil || page < 1 {
		page = 1
	}
	per, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || per < 1 {
		per = 20
	}
	if per > maxPerPage {
		per = maxPerPage
	}
	return store.Page{Number: page, PerPage: per}
}

// setPageHeaders writes GitLab's pagination headers: X-Total, X-Total-Pages,
// X-Page, X-Per-Page, X-Next-Page, X-Prev-Page and Link.
func (s *Server) setPageHeaders(w http.ResponseWriter, r *http.Request, p store.Page, total int) {
	pages := (total + p.PerPage - 1) / p.PerPage
	if pages == 0 {
		pages = 1
	}
	h := w.Header()
	h.Set("X-Total", strconv.Itoa(total))
	h.Set("X-Total-Pages", strconv.Itoa(pages))
	h.Set("X-Page", strconv.Itoa(p.Number))
	h.Set("X-Per-Page", strconv.Itoa(p.PerPage))
	next, prev := "", ""
	if p.Number < pages {
		next = strconv.Itoa(p.Number + 1)
	}
	if p.Number > 1 {
		prev = strconv.Itoa(p.Number - 1)
	}
	h.Set("X-Next-Page", next)
	h.Set("X-Prev-Page", prev)

	link := func(n int, rel string) string {
		q := r.URL.Query()
		q.Del("private_token")
		q.Set("page", strconv.Itoa(n))
		q.Set("per_page", strconv.Itoa(p.PerPage))
		// The escaped path keeps group%2Fproject one segment.
		return "<" + s.cfg.ExternalURL + r.URL.EscapedPath() + "?" + q.Encode() + `>; rel="` + rel + `"`
	}
	var links []string
	if prev != "" {
		links = append(links, link(p.Number-1, "prev"))
	}
	if next != "" {
		links = append(links, link(p.Number+1, "next"))
	}
	links = append(links, link(1, "first"), link(pages, "last"))
	val := ""
	for i, l := range links {
		if i > 0 {
			val += ", "
		}
		val += l
	}
	h.Set("Link", val)
}
