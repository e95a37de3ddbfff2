package entity

import (
	"strconv"

	"github.com/triggerd/triggerd/internal/store"
)

// Job is GitLab's Job entity.
type Job struct {
	ID                int64         `json:"id"`
	Status            string        `json:"status"`
	Stage             string        `json:"stage"`
	Name              string        `json:"name"`
	Ref               string        `json:"ref"`
	Tag               bool          `json:"tag"`
	Coverage          *string       `json:"coverage"`
	AllowFailure      bool          `json:"allow_failure"`
	CreatedAt         Time          `json:"created_at"`
	StartedAt         *Time         `json:"started_at"`
	FinishedAt        *Time         `json:"finished_at"`
	ErasedAt          *Time         `json:"erased_at"`
	Duration          *float64      `json:"duration"`
	QueuedDuration    *float64      `json:"queued_duration"`
	User              *UserBasic    `json:"user"`
	Commit            JobCommit     `json:"commit"`
	Pipeline          PipelineBasic `json:"pipeline"`
	FailureReason     *string       `json:"failure_reason,omitempty"`
	WebURL            string        `json:"web_url"`
	Project           JobProject    `json:"project"`
	ArtifactsFile     *ArtifactFile `json:"artifacts_file,omitempty"`
	Artifacts         []any         `json:"artifacts"`
	Runner            any           `json:"runner"`
	ArtifactsExpireAt *Time         `json:"artifacts_expire_at"`
	Archived          bool          `json:"archived"`
	TagList           []string      `json:"tag_list"`
}

// Bridge is GitLab's Bridge entity: a trigger job with its downstream
// pipeline (null until one is created).
type Bridge struct {
	Job
	DownstreamPipeline *PipelineBasic `json:"downstream_pipeline"`
}

// NewBridge renders a bridge and its downstream pipeline, if any.
func NewBridge(base string, j store.Job, downstream *store.Pipeline) Bridge {
	b := Bridge{Job: NewJob(base, j)}
	if downstream != nil {
		pb := NewPipelineBasic(base, *downstream)
		b.DownstreamPipeline = &pb
	}
	return b
}

// JobCommit is the commit summary inside a job.
type JobCommit struct {
	ID      string `json:"id"`
	ShortID string `json:"short_id"`
}

// JobProject is the project summary inside a job.
type JobProject struct {
	CIJobTokenScopeEnabled bool `json:"ci_job_token_scope_enabled"`
}

// NewJob renders a job.
func NewJob(base string, j store.Job) Job {
	e := Job{
		ID: j.ID, Status: j.Status, Stage: j.Stage, Name: j.Name, Ref: j.Ref, Tag: j.Tag, Coverage: j.Coverage,
		AllowFailure: j.AllowFailure, CreatedAt: TimeOf(j.CreatedAt), StartedAt: TimePtr(j.StartedAt),
		FinishedAt: TimePtr(j.FinishedAt),
		User:       userBasicPtr(base, j.UserID, j.UserUsername, j.UserName, j.UserState),
		Commit:     JobCommit{ID: j.SHA, ShortID: short(j.SHA)},
		Pipeline: PipelineBasic{
			ID: j.PipelineID, IID: j.PipelineIID, ProjectID: j.ProjectID, SHA: j.SHA, Ref: j.Ref,
			Status: j.PipelineStatus, Source: j.PipelineSource, CreatedAt: TimeOf(j.PipelineCreatedAt),
			UpdatedAt: TimeOf(j.PipelineUpdatedAt), WebURL: base + PipelinePath(j.ProjectPath, j.PipelineID),
		},
		FailureReason: j.FailureReason,
		WebURL:        base + "/" + j.ProjectPath + "/-/jobs/" + strconv.FormatInt(j.ID, 10),
		Project:       JobProject{CIJobTokenScopeEnabled: true},
		Artifacts:     []any{},
		TagList:       []string{},
	}
	if j.StartedAt != nil {
		end := j.UpdatedAt
		if j.FinishedAt != nil {
			end = *j.FinishedAt
		}
		d := end.Sub(*j.StartedAt).Seconds()
		e.Duration = &d
		if j.QueuedAt != nil {
			qd := j.StartedAt.Sub(*j.QueuedAt).Seconds()
			e.QueuedDuration = &qd
		}
	}
	return e
}

func short(sha string) string {
	if len(sha) > 8 {
		return sha[:8]
	}
	return sha
}

// ArtifactFile is GitLab's JobArtifactFile entity: a job's archive, shown
// only when the job has one.
type ArtifactFile struct {
	Filename string `json:"filename"`
	Size     int64  `json:"size"`
}

// JobArtifact is GitLab's JobArtifact entity, an entry of a job's
// artifacts list.
type JobArtifact struct {
	FileType   string `json:"file_type"`
	Size       int64  `json:"size"`
	Filename   string `json:"filename"`
	FileFormat string `json:"file_format"`
}

// SetArtifacts fills in a job's archive: artifacts_file, the artifacts
// list and artifacts_expire_at. Callers load the archives of a whole list
// of jobs in one query (store.ArtifactsOfJobs).
func (e *Job) SetArtifacts(a store.JobArtifacts) {
	e.ArtifactsFile = &ArtifactFile{Filename: a.FileName, Size: a.Size}
	e.Artifacts = []any{JobArtifact{FileType: a.FileType, Size: a.Size, Filename: a.FileName, FileFormat: "zip"}}
	e.ArtifactsExpireAt = TimePtr(a.ExpireAt)
}
