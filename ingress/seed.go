package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
)

// demoCI is the three-stage example of GitLab's trigger documentation.
const demoCI = `stages:
- test
- build
- package

run_tests:
  stage: test
  script:
  - make test

build_package:
  stage: build
  script:
  - make build

upload_package:
  stage: package
  script:
  - if [ -n "${UPLOAD_TO_S3}" ]; then make upload; fi
`

// seedDemo makes sure a demo user owns a project demo/app with the docs'
// .gitlab-ci.yml on master and a trigger token, and prints a curl that
// triggers it. It goes through the API itself, in process, as an
// administrator and then as the demo user, so it does exactly what a client
// would; running it again reuses what exists.
func seedDemo(ctx context.Context, api http.Handler, adminToken, externalURL string, out io.Writer) error {
	if adminToken == "" {
		return fmt.Errorf("TRIGGERS_ADMIN_TOKEN is needed to seed the demo")
	}
	call := func(method, path, token string, form url.Values, v any) (int, error) {
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req := httptest.NewRequest(method, "/api/v4"+path, body).WithContext(ctx)
		req.Header.Set("PRIVATE-TOKEN", token)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		if v != nil && rec.Code < 300 {
			if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
				return rec.Code, fmt.Errorf("%s %s: %w", method, path, err)
			}
		}
		if rec.Code >= 300 && rec.Code != http.StatusNotFound {
			return rec.Code, fmt.Errorf("%s %s: %d %s", method, path, rec.Code, rec.Body.String())
		}
		return rec.Code, nil
	}
	type idObj struct {
		ID int64 `json:"id"`
	}

	var users []idObj
	if _, err := call("GET", "/users?username=demo", adminToken, nil, &users); err != nil {
		return err
	}
	if len(users) == 0 {
		var u idObj
		if _, err := call("POST", "/users", adminToken, url.Values{"username": {"demo"}, "name": {"Demo User"},
			"email": {"demo@example.com"}, "force_random_password": {"true"}}, &u); err != nil {
			return err
		}
		users = append(users, u)
	}
	var pat struct {
		Token string `json:"token"`
	}
	if _, err := call("POST", fmt.Sprintf("/users/%d/personal_access_tokens", users[0].ID), adminToken,
		url.Values{"name": {"demo"}, "scopes[]": {"api"}}, &pat); err != nil {
		return err
	}

	var project struct {
		ID                int64  `json:"id"`
		PathWithNamespace string `json:"path_with_namespace"`
	}
	code, err := call("GET", "/projects/demo%2Fapp", pat.Token, nil, &project)
	if err != nil {
		return err
	}
	if code == http.StatusNotFound {
		if _, err := call("POST", "/projects", pat.Token, url.Values{"name": {"app"}, "default_branch": {"master"}}, &project); err != nil {
			return err
		}
		if _, err := call("POST", fmt.Sprintf("/projects/%d/repository/files/.gitlab-ci.yml", project.ID), pat.Token,
			url.Values{"branch": {"master"}, "content": {demoCI}, "commit_message": {"Add .gitlab-ci.yml"}}, nil); err != nil {
			return err
		}
	}

	var triggers []struct {
		Token       string `json:"token"`
		Description string `json:"description"`
	}
	if _, err := call("GET", fmt.Sprintf("/projects/%d/triggers", project.ID), pat.Token, nil, &triggers); err != nil {
		return err
	}
	token := ""
	for _, t := range triggers {
		if t.Description == "demo trigger" {
			token = t.Token
		}
	}
	if token == "" {
		var t struct {
			Token string `json:"token"`
		}
		if _, err := call("POST", fmt.Sprintf("/projects/%d/triggers", project.ID), pat.Token,
			url.Values{"description": {"demo trigger"}}, &t); err != nil {
			return err
		}
		token = t.Token
	}
	fmt.Fprintf(out, "demo project %s (id %d); trigger a pipeline with:\n\n", project.PathWithNamespace, project.ID)
	fmt.Fprintf(out, "curl --request POST --form token=%s --form ref=master --form \"variables[UPLOAD_TO_S3]=true\" %s/api/v4/projects/%d/trigger/pipeline\n\n",
		token, externalURL, project.ID)
	fmt.Fprintf(out, "and read it back with:\n\ncurl --header \"PRIVATE-TOKEN: %s\" %s/api/v4/projects/%d/pipelines\n", pat.Token, externalURL, project.ID)
	return nil
}
