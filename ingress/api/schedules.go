package api

import (
	"errors"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/triggerd/triggerd/internal/cronspec"
	"github.com/triggerd/triggerd/internal/entity"
	"github.com/triggerd/triggerd/internal/store"
)

// The pipeline schedules API, as GitLab's lib/api/ci/pipeline_schedules.rb.
// Who may do what, from GitLab's Ci::PipelineSchedulePolicy:
//   - read (list, show, pipelines): Reporter and up, or anyone signed in
//     who can see a public project;
//   - create: Developer and up;
//   - update, and create or update variables: the schedule's owner while a
//     Developer, or an administrator; a Maintainer who does not own the
//     schedule must take ownership first;
//   - take ownership, delete, delete variables and read variables
//     ("admin_pipeline_schedule"): Maintainer and up, or the owner while a
//     Developer.
//
// Play is served by schedule_play.go.
func (s *Server) routesSchedules(r *mux.Router) {
	const one = "/projects/{id}/pipeline_schedules/{pipeline_schedule_id}"
	r.Handle("/projects/{id}/pipeline_schedules", s.handle(s.listSchedules)).Methods(http.MethodGet)
	r.Handle("/projects/{id}/pipeline_schedules", s.handle(s.createSchedule)).Methods(http.MethodPost)
	r.Handle(one, s.handle(s.getSchedule)).Methods(http.MethodGet)
	r.Handle(one, s.handle(s.updateSchedule)).Methods(http.MethodPut)
	r.Handle(one, s.handle(s.deleteSchedule)).Methods(http.MethodDelete)
	r.Handle(one+"/take_ownership", s.handle(s.takeScheduleOwnership)).Methods(http.MethodPost)
	r.Handle(one+"/pipelines", s.handle(s.schedulePipelines)).Methods(http.MethodGet)
	r.Handle(one+"/variables", s.handle(s.createScheduleVariable)).Methods(http.MethodPost)
	r.Handle(one+"/variables/{key}", s.handle(s.getScheduleVariable)).Methods(http.MethodGet)
	r.Handle(one+"/variables/{key}", s.handle(s.updateScheduleVariable)).Methods(http.MethodPut)
	r.Handle(one+"/variables/{key}", s.handle(s.deleteScheduleVariable)).Methods(http.MethodDelete)
}

var (
	errScheduleNotFound         = notFound("Pipeline Schedule")
	errScheduleVariableNotFound = notFound("Pipeline Schedule Variable")
)

// scheduleReader reports whether pa may read the project's schedules.
func scheduleReader(pa projectAccess) bool {
	return pa.Level >= store.Reporter || pa.Project.Visibility == "public"
}

// scheduleRights are what the request's user may do with one schedule.
type scheduleRights struct {
	owner bool
	// admin is GitLab's admin_pipeline_schedule: take ownership, delete,
	// see and delete variables.
	admin bool
	// update is GitLab's update_pipeline_schedule: edit the schedule and
	// create or change its variables.
	update bool
	// setVariables is the project's set_pipeline_variables.
	setVariables bool
}

func rightsOn(pa projectAccess, sc store.Schedule) scheduleRights {
	owner := pa.User != nil && sc.OwnerID != nil && *sc.OwnerID == pa.User.ID
	dev := pa.Level >= store.Developer
	return scheduleRights{
		owner:        owner,
		admin:        pa.Level >= store.Maintainer || (owner && dev),
		update:       (pa.User != nil && pa.User.IsAdmin) || (owner && dev),
		setVariables: dev,
	}
}

// scheduleID parses :pipeline_schedule_id with Grape's message.
func scheduleID(r *http.Request) (int64, error) {
	return idParam(r, "pipeline_schedule_id")
}

// findSchedule resolves the project and the schedule in GitLab's order:
// the project (404 Project Not Found), then the schedule, which is
// "404 Pipeline Schedule Not Found" both when it does not exist and when
// the user may not read it.
func (s *Server) findSchedule(r *http.Request, id int64) (projectAccess, store.Schedule, error) {
	pa, err := s.project(r, store.NoAccess)
	if err != nil {
		return pa, store.Schedule{}, err
	}
	return s.scheduleIn(r, pa, id)
}

// scheduleIn is findSchedule for a project already resolved.
func (s *Server) scheduleIn(r *http.Request, pa projectAccess, id int64) (projectAccess, store.Schedule, error) {
	if !scheduleReader(pa) {
		return pa, store.Schedule{}, errScheduleNotFound
	}
	sc, err := s.q.ScheduleByID(r.Context(), pa.Project.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return pa, sc, errScheduleNotFound
	}
	return pa, sc, err
}

// renderSchedule renders one schedule with its last pipeline, and with its
// variables for those who may administer it.
func (s *Server) renderSchedule(r *http.Request, pa projectAccess, sc store.Schedule) (entity.PipelineScheduleDetails, error) {
	var last *store.Pipeline
	pl, err := s.q.LastSchedulePipeline(r.Context(), sc.ID)
	switch {
	case err == nil:
		last = &pl
	case !errors.Is(err, store.ErrNotFound):
		return entity.PipelineScheduleDetails{}, err
	}
	show := rightsOn(pa, sc).admin
	var vars []store.Variable
	if show {
		if vars, err = s.q.ScheduleVariables(r.Context(), sc.ID); err != nil {
			return entity.PipelineScheduleDetails{}, err
		}
	}
	return entity.NewPipelineScheduleDetails(s.cfg.ExternalURL, sc, last, vars, show), nil
}

func (s *Server) writeSchedule(w http.ResponseWriter, r *http.Request, status int, pa projectAccess, sc store.Schedule) error {
	e, err := s.renderSchedule(r, pa, sc)
	if err != nil {
		return err
	}
	writeJSON(w, status, e)
	return nil
}

func (s *Server) listSchedules(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.requireUser(r); err != nil {
		return err
	}
	var active *bool
	switch scope := r.URL.Query().Get("scope"); scope {
	case "":
	case "active", "inactive":
		v := scope == "active"
		active = &v
	default:
		return paramError("scope does not have a valid value")
	}
	pa, err := s.project(r, store.NoAccess)
	if err != nil {
		return err
	}
	if !scheduleReader(pa) {
		return errForbidden
	}
	page := pageOf(r)
	scs, total, err := s.q.ListSchedules(r.Context(), pa.Project.ID, active, page)
	if err != nil {
		return err
	}
	out := make([]entity.PipelineSchedule, len(scs))
	for i, sc := range scs {
		out[i] = entity.NewPipelineSchedule(s.cfg.ExternalURL, sc)
	}
	s.setPageHeaders(w, r, page, total)
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getSchedule(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.requireUser(r); err != nil {
		return err
	}
	id, err := scheduleID(r)
	if err != nil {
		return err
	}
	pa, sc, err := s.findSchedule(r, id)
	if err != nil {
		return err
	}
	return s.writeSchedule(w, r, http.StatusOK, pa, sc)
}

// scheduleParams are the fields a create or update request gave.
type scheduleParams struct {
	description, ref, cron, zone *string
	active                       *bool
}

// readScheduleParams reads the schedule fields as Grape declares them;
// create requires description, ref and cron, and a ref that is not empty.
func readScheduleParams(p params, create bool) (scheduleParams, error) {
	var sp scheduleParams
	if create {
		var missing []string
		for _, name := range []string{"description", "ref", "cron"} {
			if !p.has(name) || p[name] == nil {
				missing = append(missing, name+" is missing")
			}
		}
		if len(missing) > 0 {
			return sp, paramError(strings.Join(missing, ", "))
		}
	}
	for _, f := range []struct {
		name string
		dst  **string
	}{{"description", &sp.description}, {"ref", &sp.ref}, {"cron", &sp.cron}, {"cron_timezone", &sp.zone}} {
		v, ok, err := p.optionalString(f.name)
		if err != nil {
			return sp, err
		}
		if ok {
			*f.dst = &v
		}
	}
	if create && *sp.ref == "" {
		return sp, paramError("ref is empty")
	}
	b, ok, err := p.optionalBool("active")
	if err != nil {
		return sp, err
	}
	if ok {
		sp.active = &b
	}
	return sp, nil
}

// fullRef is GitLab's Ci::PipelineSchedule::VALID_REF_FORMAT_REGEX.
var fullRef = regexp.MustCompile(`^refs/(heads|tags)/\S`)

// errRefAmbiguous is GitLab's answer for a ref it cannot expand to
// refs/heads/... or refs/tags/...: one that names both a branch and a tag,
// or neither.
func errRefAmbiguous() error {
	var fe fieldErrors
	fe.add("ref", "is ambiguous")
	return fe.err()
}

// expandRef turns a short ref into the full ref of the one branch or tag it
// names, as GitLab stores schedule refs. A full ref is kept as given.
func (s *Server) expandRef(r *http.Request, projectID int64, ref string) (string, error) {
	if fullRef.MatchString(ref) {
		return ref, nil
	}
	if ref == "" {
		return "", errRefAmbiguous()
	}
	refs, err := s.q.RefsNamed(r.Context(), projectID, ref)
	if err != nil {
		return "", err
	}
	if len(refs) != 1 {
		return "", errRefAmbiguous()
	}
	if refs[0].Kind == "tag" {
		return "refs/tags/" + ref, nil
	}
	return "refs/heads/" + ref, nil
}

// validateSchedule runs the model's validations (cron, cron_timezone,
// description, in GitLab's order and words) and computes the next run from
// now.
func validateSchedule(f *store.ScheduleFields, now time.Time) error {
	f.Cron = strings.TrimSpace(f.Cron)
	var fe fieldErrors
	spec, err := cronspec.Parse(f.Cron, f.CronTimezone)
	if errors.Is(err, cronspec.ErrInvalidCron) {
		// GitLab's CronValidator message starts with a space.
		fe.add("cron", " is invalid syntax")
		if f.Cron == "" {
			fe.add("cron", "can't be blank")
		}
	}
	if errors.Is(err, cronspec.ErrInvalidTimezone) {
		fe.add("cron_timezone", " is invalid syntax")
		if strings.TrimSpace(f.CronTimezone) == "" {
			fe.add("cron_timezone", "can't be blank")
		}
	}
	if strings.TrimSpace(f.Description) == "" {
		fe.add("description", "can't be blank")
	}
	if err := fe.err(); err != nil {
		return err
	}
	f.NextRunAt = spec.Next(now)
	return nil
}

func (s *Server) createSchedule(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.requireUser(r); err != nil {
		return err
	}
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	sp, err := readScheduleParams(p, true)
	if err != nil {
		return err
	}
	pa, err := s.project(r, store.NoAccess)
	if err != nil {
		return err
	}
	if pa.Level < store.Developer {
		return errForbidden
	}
	f := store.ScheduleFields{Description: *sp.description, Cron: *sp.cron, CronTimezone: "UTC", Active: true}
	if sp.zone != nil {
		f.CronTimezone = *sp.zone
	}
	if sp.active != nil {
		f.Active = *sp.active
	}
	if f.Ref, err = s.expandRef(r, pa.Project.ID, *sp.ref); err != nil {
		return err
	}
	if err := validateSchedule(&f, time.Now()); err != nil {
		return err
	}
	sc, err := s.q.CreateSchedule(r.Context(), pa.Project.ID, pa.User.ID, f)
	if err != nil {
		return err
	}
	return s.writeSchedule(w, r, http.StatusCreated, pa, sc)
}

func (s *Server) updateSchedule(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.requireUser(r); err != nil {
		return err
	}
	id, err := scheduleID(r)
	if err != nil {
		return err
	}
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	sp, err := readScheduleParams(p, false)
	if err != nil {
		return err
	}
	pa, sc, err := s.findSchedule(r, id)
	if err != nil {
		return err
	}
	if !rightsOn(pa, sc).update {
		return errForbidden
	}
	f := store.ScheduleFields{Description: sc.Description, Ref: sc.Ref, Cron: sc.Cron, CronTimezone: sc.CronTimezone, Active: sc.Active}
	for _, c := range []struct {
		dst *string
		src *string
	}{{&f.Description, sp.description}, {&f.Ref, sp.ref}, {&f.Cron, sp.cron}, {&f.CronTimezone, sp.zone}} {
		if c.src != nil {
			*c.dst = *c.src
		}
	}
	if sp.active != nil {
		f.Active = *sp.active
	}
	if f.Ref, err = s.expandRef(r, pa.Project.ID, f.Ref); err != nil {
		return err
	}
	if err := validateSchedule(&f, time.Now()); err != nil {
		return err
	}
	sc, err = s.q.UpdateSchedule(r.Context(), pa.Project.ID, sc.ID, f)
	if errors.Is(err, store.ErrNotFound) {
		return errScheduleNotFound
	}
	if err != nil {
		return err
	}
	return s.writeSchedule(w, r, http.StatusOK, pa, sc)
}

// takeScheduleOwnership makes the caller the schedule's owner: 201 with the
// schedule, or 200 when the caller already owns it.
func (s *Server) takeScheduleOwnership(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.requireUser(r); err != nil {
		return err
	}
	id, err := scheduleID(r)
	if err != nil {
		return err
	}
	pa, sc, err := s.findSchedule(r, id)
	if err != nil {
		return err
	}
	rights := rightsOn(pa, sc)
	if !rights.admin {
		return errForbidden
	}
	if rights.owner {
		return s.writeSchedule(w, r, http.StatusOK, pa, sc)
	}
	// GitLab recomputes the next run whenever a schedule is saved.
	spec, err := cronspec.Parse(sc.Cron, sc.CronTimezone)
	if err != nil {
		return err
	}
	sc, err = s.q.SetScheduleOwner(r.Context(), pa.Project.ID, sc.ID, pa.User.ID, spec.Next(time.Now()))
	if errors.Is(err, store.ErrNotFound) {
		return errScheduleNotFound
	}
	if err != nil {
		return err
	}
	return s.writeSchedule(w, r, http.StatusCreated, pa, sc)
}

// deleteSchedule answers 204, or 412 when If-Unmodified-Since is older than
// the schedule's last change, as GitLab's destroy_conditionally! does.
func (s *Server) deleteSchedule(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.requireUser(r); err != nil {
		return err
	}
	id, err := scheduleID(r)
	if err != nil {
		return err
	}
	pa, sc, err := s.findSchedule(r, id)
	if err != nil {
		return err
	}
	if !rightsOn(pa, sc).admin {
		return errForbidden
	}
	if h := r.Header.Get("If-Unmodified-Since"); h != "" {
		if since, err := http.ParseTime(h); err == nil && sc.UpdatedAt.Truncate(time.Second).After(since) {
			return messageError(http.StatusPreconditionFailed, "412 Precondition Failed")
		}
	}
	err = s.q.DeleteSchedule(r.Context(), pa.Project.ID, sc.ID)
	if errors.Is(err, store.ErrNotFound) {
		return errScheduleNotFound
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// schedulePipelines lists the pipelines a schedule created, oldest first
// unless sort=desc.
func (s *Server) schedulePipelines(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.requireUser(r); err != nil {
		return err
	}
	id, err := scheduleID(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := store.SchedulePipelineFilter{ScheduleID: id, Status: q.Get("status")}
	if f.Status != "" && !pipelineStatuses[f.Status] {
		return paramError("status does not have a valid value")
	}
	switch q.Get("sort") {
	case "", "asc":
	case "desc":
		f.Desc = true
	default:
		return paramError("sort does not have a valid value")
	}
	pa, _, err := s.findSchedule(r, id)
	if err != nil {
		return err
	}
	f.ProjectID = pa.Project.ID
	page := pageOf(r)
	pls, total, err := s.q.ListSchedulePipelines(r.Context(), f, page)
	if err != nil {
		return err
	}
	out := make([]entity.PipelineBasic, len(pls))
	for i, pl := range pls {
		out[i] = entity.NewPipelineBasic(s.cfg.ExternalURL, pl)
	}
	s.setPageHeaders(w, r, page, total)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// variableType validates variable_type: env_var or file.
func variableType(p params) (*string, error) {
	v, ok, err := p.optionalString("variable_type")
	if err != nil || !ok {
		return nil, err
	}
	if v != "env_var" && v != "file" {
		return nil, paramError("variable_type does not have a valid value")
	}
	return &v, nil
}

// scheduleForVariables resolves a variables request in GitLab's order: the
// project, the project's set_pipeline_variables, the schedule, then the
// right the action needs on it (update, or admin to delete).
func (s *Server) scheduleForVariables(r *http.Request, id int64, needAdmin bool) (projectAccess, store.Schedule, error) {
	pa, err := s.project(r, store.NoAccess)
	if err != nil {
		return pa, store.Schedule{}, err
	}
	if pa.Level < store.Developer {
		return pa, store.Schedule{}, errForbidden
	}
	pa, sc, err := s.scheduleIn(r, pa, id)
	if err != nil {
		return pa, sc, err
	}
	rights := rightsOn(pa, sc)
	if (needAdmin && !rights.admin) || (!needAdmin && !rights.update) {
		return pa, sc, errForbidden
	}
	return pa, sc, nil
}

func (s *Server) createScheduleVariable(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.requireUser(r); err != nil {
		return err
	}
	id, err := scheduleID(r)
	if err != nil {
		return err
	}
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	var missing []string
	for _, name := range []string{"key", "value"} {
		if !p.has(name) || p[name] == nil {
			missing = append(missing, name+" is missing")
		}
	}
	if len(missing) > 0 {
		return paramError(strings.Join(missing, ", "))
	}
	key, err := p.requiredString("key")
	if err != nil {
		return err
	}
	value, err := p.requiredString("value")
	if err != nil {
		return err
	}
	vt, err := variableType(p)
	if err != nil {
		return err
	}
	_, sc, err := s.scheduleForVariables(r, id, false)
	if err != nil {
		return err
	}
	v := store.Variable{Key: strings.TrimSpace(key), Value: value, VariableType: "env_var"}
	if vt != nil {
		v.VariableType = *vt
	}
	var fe fieldErrors
	for _, p := range variableKeyProblems(v.Key) {
		fe.add("key", p)
	}
	if err := fe.err(); err != nil {
		return err
	}
	v, err = s.q.CreateScheduleVariable(r.Context(), sc.ID, v)
	if errors.Is(err, store.ErrDuplicate) {
		fe.add("key", "has already been taken")
		return fe.err()
	}
	if errors.Is(err, store.ErrNotFound) {
		return errScheduleNotFound
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, entity.NewPipelineScheduleVar(v))
	return nil
}

func (s *Server) getScheduleVariable(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.requireUser(r); err != nil {
		return err
	}
	id, err := scheduleID(r)
	if err != nil {
		return err
	}
	pa, sc, err := s.findSchedule(r, id)
	if err != nil {
		return err
	}
	if !rightsOn(pa, sc).admin {
		return errForbidden
	}
	v, err := s.q.ScheduleVariable(r.Context(), sc.ID, pathVar(r, "key"))
	if errors.Is(err, store.ErrNotFound) {
		return errScheduleVariableNotFound
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, entity.NewPipelineScheduleVar(v))
	return nil
}

func (s *Server) updateScheduleVariable(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.requireUser(r); err != nil {
		return err
	}
	id, err := scheduleID(r)
	if err != nil {
		return err
	}
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	var value *string
	if v, ok, err := p.optionalString("value"); err != nil {
		return err
	} else if ok {
		value = &v
	}
	vt, err := variableType(p)
	if err != nil {
		return err
	}
	_, sc, err := s.scheduleForVariables(r, id, false)
	if err != nil {
		return err
	}
	v, err := s.q.UpdateScheduleVariable(r.Context(), sc.ID, pathVar(r, "key"), value, vt)
	if errors.Is(err, store.ErrNotFound) {
		return errScheduleVariableNotFound
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, entity.NewPipelineScheduleVar(v))
	return nil
}

// deleteScheduleVariable answers 202 with the deleted variable, as GitLab
// does.
func (s *Server) deleteScheduleVariable(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.requireUser(r); err != nil {
		return err
	}
	id, err := scheduleID(r)
	if err != nil {
		return err
	}
	_, sc, err := s.scheduleForVariables(r, id, true)
	if err != nil {
		return err
	}
	v, err := s.q.DeleteScheduleVariable(r.Context(), sc.ID, pathVar(r, "key"))
	if errors.Is(err, store.ErrNotFound) {
		return errScheduleVariableNotFound
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, entity.NewPipelineScheduleVar(v))
	return nil
}
