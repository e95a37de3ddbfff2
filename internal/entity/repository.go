package entity

import (
	"net/url"
	"regexp"
	"strings"

	"github.com/triggerd/triggerd/internal/store"
)

// Commit is GitLab's Commit entity, field for field in GitLab's order.
type Commit struct {
	ID               string              `json:"id"`
	ShortID          string              `json:"short_id"`
	CreatedAt        Time                `json:"created_at"`
	ParentIDs        []string            `json:"parent_ids"`
	Title            string              `json:"title"`
	Message          string              `json:"message"`
	AuthorName       string              `json:"author_name"`
	AuthorEmail      string              `json:"author_email"`
	AuthoredDate     Time                `json:"authored_date"`
	CommitterName    string              `json:"committer_name"`
	CommitterEmail   string              `json:"committer_email"`
	CommittedDate    Time                `json:"committed_date"`
	Trailers         map[string]string   `json:"trailers"`
	ExtendedTrailers map[string][]string `json:"extended_trailers"`
	WebURL           string              `json:"web_url"`
}

// CommitStats is GitLab's CommitStats entity: lines added and removed
// against the first parent.
type CommitStats struct {
	Additions int `json:"additions"`
	Deletions int `json:"deletions"`
	Total     int `json:"total"`
}

// CommitDetail is GitLab's CommitDetail entity: a commit with its stats
// (when asked for), the status of its latest pipeline, its project and that
// pipeline.
type CommitDetail struct {
	Commit
	Stats        *CommitStats   `json:"stats,omitempty"`
	Status       *string        `json:"status"`
	ProjectID    int64          `json:"project_id"`
	LastPipeline *PipelineBasic `json:"last_pipeline"`
}

// shortIDLength is how many characters of a commit id GitLab's short_id
// keeps.
const shortIDLength = 8

// CommitPath is the UI path of a commit, relative to the external URL.
func CommitPath(projectPath, sha string) string {
	return "/" + projectPath + "/-/commit/" + sha
}

// NewCommit renders a commit of the project at projectPath. Git trailers
// are parsed from the message when withTrailers is set, which GitLab does
// only for a commit list asked with trailers=true; everywhere else its
// trailers and extended_trailers are empty objects.
func NewCommit(base, projectPath string, c store.Commit, withTrailers bool) Commit {
	short := c.SHA
	if len(short) > shortIDLength {
		short = short[:shortIDLength]
	}
	parents := c.ParentIDs
	if parents == nil {
		parents = []string{}
	}
	trailers, extended := map[string]string{}, map[string][]string{}
	if withTrailers {
		trailers, extended = ParseTrailers(c.Message)
	}
	return Commit{
		ID: c.SHA, ShortID: short, CreatedAt: TimeOf(c.CommittedDate), ParentIDs: parents,
		Title: c.Title, Message: c.Message,
		AuthorName: c.AuthorName, AuthorEmail: c.AuthorEmail, AuthoredDate: TimeOf(c.AuthoredDate),
		CommitterName: c.CommitterName, CommitterEmail: c.CommitterEmail, CommittedDate: TimeOf(c.CommittedDate),
		Trailers: trailers, ExtendedTrailers: extended,
		WebURL: base + CommitPath(projectPath, c.SHA),
	}
}

var trailerLine = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9-]*)\s*:\s*(.*)$`)

// ParseTrailers reads the git trailers of a commit message: the lines
// "Key: value" of its last paragraph, when that paragraph is not the
// subject and consists of trailers only (continuation lines, indented, fold
// into the value before them). trailers keeps the last value of each key,
// extended every value, as GitLab's fields do.
func ParseTrailers(message string) (trailers map[string]string, extended map[string][]string) {
	trailers, extended = map[string]string{}, map[string][]string{}
	text := strings.TrimRight(strings.ReplaceAll(message, "\r\n", "\n"), "\n ")
	i := strings.LastIndex(text, "\n\n")
	if i < 0 {
		return trailers, extended
	}
	type kv struct{ k, v string }
	var found []kv
	for _, line := range strings.Split(strings.TrimLeft(text[i+2:], "\n"), "\n") {
		if line != "" && (line[0] == ' ' || line[0] == '\t') && len(found) > 0 {
			found[len(found)-1].v += " " + strings.TrimSpace(line)
			continue
		}
		m := trailerLine.FindStringSubmatch(line)
		if m == nil {
			return trailers, extended
		}
		found = append(found, kv{m[1], strings.TrimSpace(m[2])})
	}
	for _, t := range found {
		trailers[t.k] = t.v
		extended[t.k] = append(extended[t.k], t.v)
	}
	return trailers, extended
}

// NewCommitDetail renders a commit with its stats (nil leaves them out),
// and its latest pipeline (nil when there is none or the viewer may not see
// pipelines).
func NewCommitDetail(base, projectPath string, projectID int64, c store.Commit, stats *store.DiffStats, last *store.Pipeline) CommitDetail {
	d := CommitDetail{Commit: NewCommit(base, projectPath, c, false), ProjectID: projectID}
	if stats != nil {
		d.Stats = &CommitStats{Additions: stats.Additions, Deletions: stats.Deletions, Total: stats.Additions + stats.Deletions}
	}
	if last != nil {
		pb := NewPipelineBasic(base, *last)
		d.LastPipeline = &pb
		status := last.Status
		d.Status = &status
	}
	return d
}

// Branch is GitLab's Branch entity.
type Branch struct {
	Name               string `json:"name"`
	Commit             Commit `json:"commit"`
	Merged             bool   `json:"merged"`
	Protected          bool   `json:"protected"`
	DevelopersCanPush  bool   `json:"developers_can_push"`
	DevelopersCanMerge bool   `json:"developers_can_merge"`
	CanPush            bool   `json:"can_push"`
	Default            bool   `json:"default"`
	WebURL             string `json:"web_url"`
}

// BranchView is what a Branch shows besides the branch and its commit:
// facts about the project and the viewer.
type BranchView struct {
	// Merged: the branch's head is an ancestor of the default branch's and
	// not the same commit.
	Merged bool
	// CanPush: the viewer may push to the branch.
	CanPush bool
	// Default: the branch is the project's default branch.
	Default bool
}

// NewBranch renders a branch of the project at projectPath. A protected
// branch here is protected as GitLab protects a default branch:
// maintainers alone push and merge, so developers_can_* are false, as they
// are for an unprotected branch (no protection rule grants developers).
func NewBranch(base, projectPath string, b store.Ref, c store.Commit, v BranchView) Branch {
	return Branch{
		Name: b.Name, Commit: NewCommit(base, projectPath, c, false), Merged: v.Merged, Protected: b.Protected,
		CanPush: v.CanPush, Default: v.Default,
		WebURL: base + "/" + projectPath + "/-/tree/" + refPath(b.Name),
	}
}

// refPath escapes a ref name for a UI path, keeping its slashes.
func refPath(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// TagRelease is GitLab's TagRelease entity, a tag's release notes.
type TagRelease struct {
	TagName     string `json:"tag_name"`
	Description string `json:"description"`
}

// Tag is GitLab's Tag entity. message and created_at are null for a
// lightweight tag, whose target is its commit; an annotated tag's target is
// its tag object.
type Tag struct {
	Name      string      `json:"name"`
	Message   *string     `json:"message"`
	Target    string      `json:"target"`
	Commit    Commit      `json:"commit"`
	Release   *TagRelease `json:"release"`
	Protected bool        `json:"protected"`
	CreatedAt *Time       `json:"created_at"`
}

// NewTag renders a tag of the project at projectPath. The service keeps no
// releases, so release is null.
func NewTag(base, projectPath string, t store.Ref, c store.Commit) Tag {
	tag := Tag{
		Name: t.Name, Target: store.TagObjectSHA(t), Commit: NewCommit(base, projectPath, c, false), Protected: t.Protected,
	}
	if t.Message != "" {
		msg := t.Message
		created := TimeOf(t.CreatedAt)
		tag.Message, tag.CreatedAt = &msg, &created
	}
	return tag
}

// File is the body of GitLab's "get file from repository": the blob's
// metadata and its content in base64.
type File struct {
	FileName        string `json:"file_name"`
	FilePath        string `json:"file_path"`
	Size            int    `json:"size"`
	Encoding        string `json:"encoding"`
	ContentSHA256   string `json:"content_sha256"`
	Ref             string `json:"ref"`
	BlobID          string `json:"blob_id"`
	CommitID        string `json:"commit_id"`
	LastCommitID    string `json:"last_commit_id"`
	ExecuteFilemode bool   `json:"execute_filemode"`
	Content         string `json:"content"`
}

// FileCommit is the body GitLab answers a file create or update with.
type FileCommit struct {
	FilePath string `json:"file_path"`
	Branch   string `json:"branch"`
}
