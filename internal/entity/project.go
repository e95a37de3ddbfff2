package entity

import (
	"net/url"
	"strconv"

	"github.com/triggerd/triggerd/internal/store"
)

// NamespaceBasic is GitLab's NamespaceBasic entity: a user's personal
// namespace or a group, as projects and the namespaces API show it.
type NamespaceBasic struct {
	ID        int64   `json:"id"`
	Name      string  `json:"name"`
	Path      string  `json:"path"`
	Kind      string  `json:"kind"`
	FullPath  string  `json:"full_path"`
	ParentID  *int64  `json:"parent_id"`
	AvatarURL *string `json:"avatar_url"`
	WebURL    string  `json:"web_url"`
}

// newNamespaceBasic renders a namespace from its identity. A personal
// namespace's path is its owner's username, so it links to the user's page
// and shows the user's avatar; a group links to its group page.
func newNamespaceBasic(base string, id int64, kind, name, path string) NamespaceBasic {
	ns := NamespaceBasic{ID: id, Name: name, Path: path, Kind: kind, FullPath: path}
	if kind == "user" {
		avatar := avatarURL(path)
		ns.AvatarURL = &avatar
		ns.WebURL = base + "/" + path
	} else {
		ns.WebURL = base + "/groups/" + path
	}
	return ns
}

// NewNamespaceBasic renders a namespace.
func NewNamespaceBasic(base string, n store.Namespace) NamespaceBasic {
	return newNamespaceBasic(base, n.ID, n.Kind, n.Name, n.Path)
}

// BasicProject is GitLab's BasicProjectDetails entity: the project of
// simple lists and of the job token allowlist.
type BasicProject struct {
	ID                int64          `json:"id"`
	Description       string         `json:"description"`
	Name              string         `json:"name"`
	NameWithNamespace string         `json:"name_with_namespace"`
	Path              string         `json:"path"`
	PathWithNamespace string         `json:"path_with_namespace"`
	CreatedAt         Time           `json:"created_at"`
	DefaultBranch     string         `json:"default_branch"`
	TagList           []string       `json:"tag_list"`
	Topics            []string       `json:"topics"`
	SSHURLToRepo      string         `json:"ssh_url_to_repo"`
	HTTPURLToRepo     string         `json:"http_url_to_repo"`
	WebURL            string         `json:"web_url"`
	ReadmeURL         *string        `json:"readme_url"`
	ForksCount        int            `json:"forks_count"`
	AvatarURL         *string        `json:"avatar_url"`
	StarCount         int            `json:"star_count"`
	LastActivityAt    Time           `json:"last_activity_at"`
	Namespace         NamespaceBasic `json:"namespace"`
}

// DefaultBranchName is what GitLab shows as the default branch of a project
// that has none yet (an empty repository): main.
const DefaultBranchName = "main"

// NewBasicProject renders a project.
func NewBasicProject(base string, p store.Project) BasicProject {
	branch := DefaultBranchName
	if p.DefaultBranch != nil {
		branch = *p.DefaultBranch
	}
	host := base
	if u, err := url.Parse(base); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	return BasicProject{
		ID: p.ID, Description: p.Description, Name: p.Name,
		NameWithNamespace: p.NamespaceName + " / " + p.Name,
		Path:              p.Path, PathWithNamespace: p.PathWithNamespace, CreatedAt: TimeOf(p.CreatedAt),
		DefaultBranch: branch, TagList: []string{}, Topics: []string{},
		SSHURLToRepo:   "git@" + host + ":" + p.PathWithNamespace + ".git",
		HTTPURLToRepo:  base + "/" + p.PathWithNamespace + ".git",
		WebURL:         base + "/" + p.PathWithNamespace,
		LastActivityAt: TimeOf(p.LastActivityAt),
		Namespace:      newNamespaceBasic(base, p.NamespaceID, p.NamespaceKind, p.NamespaceName, p.NamespacePath),
	}
}

// ProjectLinks is the _links field of GitLab's Project entity.
type ProjectLinks struct {
	Self          string `json:"self"`
	Issues        string `json:"issues"`
	MergeRequests string `json:"merge_requests"`
	RepoBranches  string `json:"repo_branches"`
	Labels        string `json:"labels"`
	Events        string `json:"events"`
	Members       string `json:"members"`
	ClusterAgents string `json:"cluster_agents"`
}

// Access is one side of a project's permissions field.
type Access struct {
	AccessLevel       int `json:"access_level"`
	NotificationLevel int `json:"notification_level"`
}

// ProjectPermissions is the permissions field of GitLab's ProjectWithAccess
// entity: the viewer's direct membership and its membership of the
// project's group.
type ProjectPermissions struct {
	ProjectAccess *Access `json:"project_access"`
	GroupAccess   *Access `json:"group_access"`
}

// globalNotificationLevel is GitLab's "global" notification setting, what a
// member has unless it chose another.
const globalNotificationLevel = 3

// NewProjectPermissions renders the viewer's levels; nil is no membership.
func NewProjectPermissions(projectLevel, groupLevel *int) *ProjectPermissions {
	access := func(l *int) *Access {
		if l == nil {
			return nil
		}
		return &Access{AccessLevel: *l, NotificationLevel: globalNotificationLevel}
	}
	return &ProjectPermissions{ProjectAccess: access(projectLevel), GroupAccess: access(groupLevel)}
}

// Project is GitLab's Project entity (with its permissions field, the
// ProjectWithAccess entity), limited to what this service has: features it
// does not offer are shown as GitLab shows them disabled or at defaults.
type Project struct {
	BasicProject
	Links                        ProjectLinks        `json:"_links"`
	EmptyRepo                    bool                `json:"empty_repo"`
	Archived                     bool                `json:"archived"`
	Visibility                   string              `json:"visibility"`
	Owner                        *UserBasic          `json:"owner,omitempty"`
	JobsEnabled                  bool                `json:"jobs_enabled"`
	SharedRunnersEnabled         bool                `json:"shared_runners_enabled"`
	CreatorID                    *int64              `json:"creator_id"`
	ImportStatus                 string              `json:"import_status"`
	CIDefaultGitDepth            int                 `json:"ci_default_git_depth"`
	CIForwardDeploymentEnabled   bool                `json:"ci_forward_deployment_enabled"`
	CIJobTokenScopeEnabled       bool                `json:"ci_job_token_scope_enabled"`
	PublicJobs                   bool                `json:"public_jobs"`
	BuildTimeout                 int                 `json:"build_timeout"`
	AutoCancelPendingPipelines   string              `json:"auto_cancel_pending_pipelines"`
	CIConfigPath                 string              `json:"ci_config_path"`
	SharedWithGroups             []any               `json:"shared_with_groups"`
	RestrictUserDefinedVariables bool                `json:"restrict_user_defined_variables"`
	Permissions                  *ProjectPermissions `json:"permissions,omitempty"`
}

// NewProject renders a project. owner is the personal namespace's owner
// (nil for a group's project, whose entity has no owner field); perms is
// the viewer's access for the ProjectWithAccess form, or nil.
func NewProject(base string, p store.Project, owner *UserBasic, emptyRepo bool, perms *ProjectPermissions) Project {
	api := base + "/api/v4/projects/" + strconv.FormatInt(p.ID, 10)
	return Project{
		BasicProject: NewBasicProject(base, p),
		Links: ProjectLinks{Self: api, Issues: api + "/issues", MergeRequests: api + "/merge_requests",
			RepoBranches: api + "/repository/branches", Labels: api + "/labels", Events: api + "/events",
			Members: api + "/members", ClusterAgents: api + "/cluster_agents"},
		EmptyRepo: emptyRepo, Visibility: p.Visibility, Owner: owner, JobsEnabled: true, SharedRunnersEnabled: true,
		CreatorID: p.CreatorID, ImportStatus: "none", CIDefaultGitDepth: 20, CIForwardDeploymentEnabled: true,
		PublicJobs: true, BuildTimeout: 3600, AutoCancelPendingPipelines: "enabled", CIConfigPath: p.CIConfigPath,
		SharedWithGroups: []any{}, Permissions: perms,
	}
}

// Group is GitLab's Group entity.
type Group struct {
	ID                             int64   `json:"id"`
	WebURL                         string  `json:"web_url"`
	Name                           string  `json:"name"`
	Path                           string  `json:"path"`
	Description                    string  `json:"description"`
	Visibility                     string  `json:"visibility"`
	ShareWithGroupLock             bool    `json:"share_with_group_lock"`
	RequireTwoFactorAuthentication bool    `json:"require_two_factor_authentication"`
	TwoFactorGracePeriod           int     `json:"two_factor_grace_period"`
	ProjectCreationLevel           string  `json:"project_creation_level"`
	AutoDevopsEnabled              *bool   `json:"auto_devops_enabled"`
	SubgroupCreationLevel          string  `json:"subgroup_creation_level"`
	EmailsDisabled                 bool    `json:"emails_disabled"`
	EmailsEnabled                  bool    `json:"emails_enabled"`
	MentionsDisabled               *bool   `json:"mentions_disabled"`
	LFSEnabled                     bool    `json:"lfs_enabled"`
	Archived                       bool    `json:"archived"`
	DefaultBranch                  *string `json:"default_branch"`
	DefaultBranchProtection        int     `json:"default_branch_protection"`
	AvatarURL                      *string `json:"avatar_url"`
	RequestAccessEnabled           bool    `json:"request_access_enabled"`
	FullName                       string  `json:"full_name"`
	FullPath                       string  `json:"full_path"`
	CreatedAt                      Time    `json:"created_at"`
	ParentID                       *int64  `json:"parent_id"`
	SharedRunnersSetting           string  `json:"shared_runners_setting"`
}

// GroupDetail is GitLab's GroupDetail entity, the answer of GET
// /groups/:id and POST /groups.
type GroupDetail struct {
	Group
	SharedWithGroups []any     `json:"shared_with_groups"`
	Projects         []Project `json:"projects"`
	SharedProjects   []any     `json:"shared_projects"`
}

// NewGroup renders a group. Project creation needs Maintainer here, which
// GitLab calls the "maintainer" project creation level.
func NewGroup(base string, g store.Namespace) Group {
	return Group{
		ID: g.ID, WebURL: base + "/groups/" + g.Path, Name: g.Name, Path: g.Path, Description: g.Description,
		Visibility: g.Visibility, TwoFactorGracePeriod: 48, ProjectCreationLevel: "maintainer",
		SubgroupCreationLevel: "maintainer", EmailsEnabled: true, LFSEnabled: true, DefaultBranchProtection: 2,
		RequestAccessEnabled: true, FullName: g.Name, FullPath: g.Path, CreatedAt: TimeOf(g.CreatedAt),
		SharedRunnersSetting: "enabled",
	}
}

// NewGroupDetail renders a group with its projects as the viewer sees them.
func NewGroupDetail(base string, g store.Namespace, projects []Project) GroupDetail {
	if projects == nil {
		projects = []Project{}
	}
	return GroupDetail{Group: NewGroup(base, g), SharedWithGroups: []any{}, Projects: projects, SharedProjects: []any{}}
}
