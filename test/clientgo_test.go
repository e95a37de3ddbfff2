package test

import (
	"net/http"
	"regexp"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/triggerd/triggerd/internal/testenv"
)

// newClient is a stock client-go client pointed at the stack. Retries are
// off so that a 5xx is seen, not hidden.
func newClient(t testing.TB, s *stack, token string) *gitlab.Client {
	t.Helper()
	c, err := gitlab.NewClient(token, gitlab.WithBaseURL(s.URL+"/api/v4"), gitlab.WithoutRetries())
	require.NoError(t, err)
	return c
}

// TestClientGo drives a whole scenario through gitlab.com/gitlab-org/api/client-go,
// unchanged: every call must succeed and decode.
func TestClientGo(t *testing.T) {
	t.Parallel()
	s := startStack(t, stackOpts{})
	admin := newClient(t, s, s.AdminToken)

	// The administrator makes a user and a personal access token for it.
	name := testenv.Name("cg")
	u, resp, err := admin.Users.CreateUser(&gitlab.CreateUserOptions{
		Username: gitlab.Ptr(name), Name: gitlab.Ptr("Client Go"), Email: gitlab.Ptr(name + "@example.com"),
		Password: gitlab.Ptr("Sup3r-Secret-Passw0rd!"), SkipConfirmation: gitlab.Ptr(true),
	})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	require.Equal(t, name, u.Username)
	require.Equal(t, "Client Go", u.Name)
	require.NotZero(t, u.ID)

	pat, _, err := admin.Users.CreatePersonalAccessToken(u.ID, &gitlab.CreatePersonalAccessTokenOptions{
		Name: gitlab.Ptr("client-go"), Scopes: &[]string{"api"},
	})
	require.NoError(t, err)
	require.NotEmpty(t, pat.Token)
	require.Equal(t, u.ID, pat.UserID)
	require.Equal(t, []string{"api"}, pat.Scopes)
	require.True(t, pat.Active)

	// From here on, as that user.
	c := newClient(t, s, pat.Token)
	me, _, err := c.Users.CurrentUser()
	require.NoError(t, err)
	require.Equal(t, u.ID, me.ID)
	require.Equal(t, name, me.Username)

	proj, resp, err := c.Projects.CreateProject(&gitlab.CreateProjectOptions{Name: gitlab.Ptr("app"), Path: gitlab.Ptr("app")})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	require.Equal(t, name+"/app", proj.PathWithNamespace)
	require.NotZero(t, proj.ID)

	fi, _, err := c.RepositoryFiles.CreateFile(proj.ID, ".gitlab-ci.yml", &gitlab.CreateFileOptions{
		Branch: gitlab.Ptr("master"), Content: gitlab.Ptr(docsCI), CommitMessage: gitlab.Ptr("Add .gitlab-ci.yml"),
	})
	require.NoError(t, err)
	require.Equal(t, ".gitlab-ci.yml", fi.FilePath)
	require.Equal(t, "master", fi.Branch)

	br, _, err := c.Branches.CreateBranch(proj.ID, &gitlab.CreateBranchOptions{Branch: gitlab.Ptr("feature/x"), Ref: gitlab.Ptr("master")})
	require.NoError(t, err)
	require.Equal(t, "feature/x", br.Name)
	require.NotNil(t, br.Commit)
	sha := br.Commit.ID
	require.Regexp(t, regexp.MustCompile(`^[0-9a-f]{40}$`), sha)

	tag, _, err := c.Tags.CreateTag(proj.ID, &gitlab.CreateTagOptions{TagName: gitlab.Ptr("v1.0.0"), Ref: gitlab.Ptr("master")})
	require.NoError(t, err)
	require.Equal(t, "v1.0.0", tag.Name)
	require.NotNil(t, tag.Commit)
	require.Equal(t, sha, tag.Commit.ID)

	// Trigger tokens: create, list, get, update, delete.
	tr, resp, err := c.PipelineTriggers.AddPipelineTrigger(proj.ID, &gitlab.AddPipelineTriggerOptions{Description: gitlab.Ptr("client-go trigger")})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	require.Regexp(t, `^glptt-[0-9a-f]{40}$`, tr.Token)
	require.Equal(t, "client-go trigger", tr.Description)
	require.NotNil(t, tr.Owner)
	require.Equal(t, u.ID, tr.Owner.ID)
	require.NotNil(t, tr.CreatedAt)
	require.Nil(t, tr.LastUsed)

	spare, _, err := c.PipelineTriggers.AddPipelineTrigger(proj.ID, &gitlab.AddPipelineTriggerOptions{Description: gitlab.Ptr("spare")})
	require.NoError(t, err)

	list, resp, err := c.PipelineTriggers.ListPipelineTriggers(proj.ID, &gitlab.ListPipelineTriggersOptions{})
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, int64(2), resp.TotalItems)
	ids := []int64{list[0].ID, list[1].ID}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	require.Equal(t, []int64{tr.ID, spare.ID}, ids)

	got, _, err := c.PipelineTriggers.GetPipelineTrigger(proj.ID, tr.ID)
	require.NoError(t, err)
	require.Equal(t, tr.Token, got.Token)
	require.Equal(t, tr.Description, got.Description)

	ed, _, err := c.PipelineTriggers.EditPipelineTrigger(proj.ID, tr.ID, &gitlab.EditPipelineTriggerOptions{Description: gitlab.Ptr("renamed")})
	require.NoError(t, err)
	require.Equal(t, "renamed", ed.Description)
	require.Equal(t, tr.Token, ed.Token)

	resp, err = c.PipelineTriggers.DeletePipelineTrigger(proj.ID, spare.ID)
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	_, resp, err = c.PipelineTriggers.GetPipelineTrigger(proj.ID, spare.ID)
	require.ErrorIs(t, err, gitlab.ErrNotFound, "a deleted trigger is gone")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	// Trigger a pipeline with variables, addressing the project by path.
	pl, resp, err := c.PipelineTriggers.RunPipelineTrigger(proj.PathWithNamespace, &gitlab.RunPipelineTriggerOptions{
		Ref: gitlab.Ptr("master"), Token: gitlab.Ptr(tr.Token),
		Variables: map[string]string{"UPLOAD_TO_S3": "true", "DEPLOY_ENV": "staging"},
	})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	require.Equal(t, proj.ID, pl.ProjectID)
	require.Equal(t, "master", pl.Ref)
	require.Equal(t, sha, pl.SHA)
	require.Equal(t, gitlab.PipelineSource("trigger"), pl.Source)
	require.False(t, pl.Tag)
	require.NotNil(t, pl.User)
	require.Equal(t, name, pl.User.Username)
	require.NotNil(t, pl.CreatedAt)
	require.NotNil(t, pl.DetailedStatus)

	gp, _, err := c.Pipelines.GetPipeline(proj.ID, pl.ID)
	require.NoError(t, err)
	require.Equal(t, pl.ID, gp.ID)
	require.Equal(t, pl.IID, gp.IID)
	require.Equal(t, "master", gp.Ref)
	require.Equal(t, gitlab.PipelineSource("trigger"), gp.Source)
	require.Empty(t, gp.YamlErrors)

	jobs, _, err := c.Jobs.ListPipelineJobs(proj.ID, pl.ID, &gitlab.ListJobsOptions{})
	require.NoError(t, err)
	stages := map[string]string{}
	for _, j := range jobs {
		stages[j.Name] = j.Stage
		require.Equal(t, pl.ID, j.Pipeline.ID)
		require.Equal(t, "master", j.Ref)
	}
	require.Equal(t, docsJobStages, stages)

	vars, _, err := c.Pipelines.GetPipelineVariables(proj.ID, pl.ID)
	require.NoError(t, err)
	gotVars := map[string]string{}
	for _, v := range vars {
		gotVars[v.Key] = v.Value
		require.Equal(t, gitlab.EnvVariableType, v.VariableType)
	}
	require.Equal(t, map[string]string{"UPLOAD_TO_S3": "true", "DEPLOY_ENV": "staging"}, gotVars)

	// The tag and the branch with a slash, through the same client.
	tp, _, err := c.PipelineTriggers.RunPipelineTrigger(proj.ID, &gitlab.RunPipelineTriggerOptions{
		Ref: gitlab.Ptr("v1.0.0"), Token: gitlab.Ptr(tr.Token),
	})
	require.NoError(t, err)
	require.True(t, tp.Tag)
	require.Equal(t, "v1.0.0", tp.Ref)
	fp, _, err := c.PipelineTriggers.RunPipelineTrigger(proj.ID, &gitlab.RunPipelineTriggerOptions{
		Ref: gitlab.Ptr("feature/x"), Token: gitlab.Ptr(tr.Token),
	})
	require.NoError(t, err)
	require.Equal(t, "feature/x", fp.Ref)

	// A refusal comes back as GitLab's error.
	_, resp, err = c.PipelineTriggers.RunPipelineTrigger(proj.ID, &gitlab.RunPipelineTriggerOptions{
		Ref: gitlab.Ptr("no-such-ref"), Token: gitlab.Ptr(tr.Token),
	})
	require.Error(t, err)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Contains(t, err.Error(), "Reference not found")

	// last_used now says the token created pipelines.
	got, _, err = c.PipelineTriggers.GetPipelineTrigger(proj.ID, tr.ID)
	require.NoError(t, err)
	require.NotNil(t, got.LastUsed)

	resp, err = c.PipelineTriggers.DeletePipelineTrigger(proj.ID, tr.ID)
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	_, resp, err = c.PipelineTriggers.RunPipelineTrigger(proj.ID, &gitlab.RunPipelineTriggerOptions{
		Ref: gitlab.Ptr("master"), Token: gitlab.Ptr(tr.Token),
	})
	require.Error(t, err)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Equal(t, 3, s.PipelineCount(t, proj.ID))
}
