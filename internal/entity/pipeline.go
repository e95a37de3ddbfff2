package entity

import (
	"strconv"

	"github.com/triggerd/triggerd/internal/store"
)

// Pipeline is GitLab's Pipeline entity, field for field in GitLab's order.
type Pipeline struct {
	ID             int64          `json:"id"`
	IID            int64          `json:"iid"`
	ProjectID      int64          `json:"project_id"`
	SHA            string         `json:"sha"`
	Ref            string         `json:"ref"`
	Status         string         `json:"status"`
	Source         string         `json:"source"`
	CreatedAt      Time           `json:"created_at"`
	UpdatedAt      Time           `json:"updated_at"`
	WebURL         string         `json:"web_url"`
	BeforeSHA      string         `json:"before_sha"`
	Tag            bool           `json:"tag"`
	YAMLErrors     *string        `json:"yaml_errors"`
	User           *UserBasic     `json:"user"`
	StartedAt      *Time          `json:"started_at"`
	FinishedAt     *Time          `json:"finished_at"`
	CommittedAt    *Time          `json:"committed_at"`
	Duration       *int           `json:"duration"`
	QueuedDuration *int           `json:"queued_duration"`
	Coverage       *string        `json:"coverage"`
	DetailedStatus DetailedStatus `json:"detailed_status"`
}

// PipelineBasic is the entity of pipeline lists.
type PipelineBasic struct {
	ID        int64  `json:"id"`
	IID       int64  `json:"iid"`
	ProjectID int64  `json:"project_id"`
	SHA       string `json:"sha"`
	Ref       string `json:"ref"`
	Status    string `json:"status"`
	Source    string `json:"source"`
	CreatedAt Time   `json:"created_at"`
	UpdatedAt Time   `json:"updated_at"`
	WebURL    string `json:"web_url"`
}

// PipelinePath is the UI path of a pipeline, relative to the external URL.
func PipelinePath(projectPath string, id int64) string {
	return "/" + projectPath + "/-/pipelines/" + strconv.FormatInt(id, 10)
}

// NewPipeline renders a pipeline.
func NewPipeline(base string, p store.Pipeline) Pipeline {
	path := PipelinePath(p.ProjectPath, p.ID)
	return Pipeline{
		ID: p.ID, IID: p.IID, ProjectID: p.ProjectID, SHA: p.SHA, Ref: p.Ref, Status: p.Status, Source: p.Source,
		CreatedAt: TimeOf(p.CreatedAt), UpdatedAt: TimeOf(p.UpdatedAt), WebURL: base + path,
		BeforeSHA: p.BeforeSHA, Tag: p.Tag, YAMLErrors: p.YAMLErrors,
		User:      userBasicPtr(base, p.UserID, p.UserUsername, p.UserName, p.UserState),
		StartedAt: TimePtr(p.StartedAt), FinishedAt: TimePtr(p.FinishedAt), CommittedAt: TimePtr(p.CommittedAt),
		Duration: p.Duration, QueuedDuration: p.QueuedDuration, Coverage: p.Coverage,
		DetailedStatus: pipelineDetailedStatus(p, path),
	}
}

// pipelineDetailedStatus is a pipeline's detailed status: a success with
// failed allow_failure jobs is "passed with warnings", as in GitLab.
func pipelineDetailedStatus(p store.Pipeline, path string) DetailedStatus {
	ds := NewDetailedStatus(p.Status, path)
	if p.Status == "success" && p.Warnings {
		ds.Icon, ds.Text, ds.Label, ds.Group, ds.Tooltip = "status_warning", "warning", "passed with warnings", "success-with-warnings", "passed with warnings"
		ds.Favicon = "/assets/ci_favicons/favicon_status_success.png"
	}
	return ds
}

// NewPipelineBasic renders a pipeline for a list.
func NewPipelineBasic(base string, p store.Pipeline) PipelineBasic {
	return PipelineBasic{
		ID: p.ID, IID: p.IID, ProjectID: p.ProjectID, SHA: p.SHA, Ref: p.Ref, Status: p.Status, Source: p.Source,
		CreatedAt: TimeOf(p.CreatedAt), UpdatedAt: TimeOf(p.UpdatedAt), WebURL: base + PipelinePath(p.ProjectPath, p.ID),
	}
}

// DetailedStatus is GitLab's status presentation of a pipeline or job.
type DetailedStatus struct {
	Icon         string  `json:"icon"`
	Text         string  `json:"text"`
	Label        string  `json:"label"`
	Group        string  `json:"group"`
	Tooltip      string  `json:"tooltip"`
	HasDetails   bool    `json:"has_details"`
	DetailsPath  string  `json:"details_path"`
	Illustration *string `json:"illustration"`
	Favicon      string  `json:"favicon"`
}

// NewDetailedStatus presents status as GitLab does for a pipeline at
// detailsPath.
func NewDetailedStatus(status, detailsPath string) DetailedStatus {
	text, label := status, status
	switch status {
	case "success":
		text, label = "passed", "passed"
	case "manual":
		label = "manual action"
	case "scheduled":
		label = "scheduled"
	case "waiting_for_resource":
		text, label = "waiting", "waiting for resource"
	}
	return DetailedStatus{
		Icon: "status_" + status, Text: text, Label: label, Group: status, Tooltip: label,
		HasDetails: true, DetailsPath: detailsPath,
		Favicon: "/assets/ci_favicons/favicon_status_" + status + ".png",
	}
}
