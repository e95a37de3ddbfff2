package api

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReadParamsShapes(t *testing.T) {
	cases := []struct {
		name, ct, query, body string
		want                  params
	}{
		{"query", "", "token=t&ref=main&variables[A]=1", "", params{"token": "t", "ref": "main", "variables": map[string]any{"A": "1"}}},
		{"form", "application/x-www-form-urlencoded", "", "token=t&variables%5BB%5D=2&scopes%5B%5D=api&scopes%5B%5D=read_api",
			params{"token": "t", "variables": map[string]any{"B": "2"}, "scopes": []any{"api", "read_api"}}},
		{"json", "application/json", "ref=q", `{"ref":"main","variables":{"A":"1"}}`, params{"ref": "main", "variables": map[string]any{"A": "1"}}},
		{"nested form value", "application/x-www-form-urlencoded", "", "variables%5BA%5D%5Bx%5D=1",
			params{"variables": map[string]any{"A": map[string]any{"x": "1"}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/x?"+c.query, strings.NewReader(c.body))
			if c.ct != "" {
				r.Header.Set("Content-Type", c.ct)
			}
			p, err := readParams(httptest.NewRecorder(), r)
			require.NoError(t, err)
			require.Equal(t, c.want, p)
		})
	}
}

func TestReadParamsCapsBody(t *testing.T) {
	body := "token=" + strings.Repeat("a", maxBodyBytes+1)
	r := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	_, err := readParams(httptest.NewRecorder(), r)
	require.True(t, errors.Is(err, errBodyTooLarge), "got %v", err)

	r = httptest.NewRequest(http.MethodPost, "/x", strings.NewReader(`{"a":"`+strings.Repeat("b", maxBodyBytes)+`"}`))
	r.Header.Set("Content-Type", "application/json")
	_, err = readParams(httptest.NewRecorder(), r)
	require.True(t, errors.Is(err, errBodyTooLarge), "got %v", err)

	r = httptest.NewRequest(http.MethodPost, "/x", strings.NewReader("--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n"+
		strings.Repeat("b", maxBodyBytes)+"\r\n--b--\r\n"))
	r.Header.Set("Content-Type", "multipart/form-data; boundary=b")
	_, err = readParams(httptest.NewRecorder(), r)
	require.True(t, errors.Is(err, errBodyTooLarge), "got %v", err)
}

func TestParseTriggerValidation(t *testing.T) {
	cases := []struct {
		name    string
		p       params
		pathRef string
		status  int
		body    string
	}{
		{"nothing", params{}, "", 400, `{"error":"ref is missing, token is missing"}`},
		{"token missing", params{"ref": "main"}, "", 400, `{"error":"token is missing"}`},
		{"ref missing", params{"token": "t"}, "", 400, `{"error":"ref is missing"}`},
		{"ref empty", params{"token": "t", "ref": ""}, "", 400, `{"error":"ref is empty"}`},
		{"variables not a hash", params{"token": "t", "ref": "main", "variables": "x"}, "", 400, `{"error":"variables is invalid"}`},
		{"variable value not a string", params{"token": "t", "ref": "main", "variables": map[string]any{"A": 1.0}}, "", 400,
			`{"message":"variables needs to be a map of key-valued strings"}`},
		{"bad key", params{"token": "t", "ref": "main", "variables": map[string]any{"A-B": "1"}}, "", 400,
			`{"message":"400 Bad request - variables key \"A-B\" can contain only letters, digits and '_'."}`},
		{"blank key", params{"token": "t", "ref": "main", "variables": map[string]any{"": "1"}}, "", 400,
			`{"message":"400 Bad request - variables key \"\" can't be blank"}`},
		{"long key", params{"token": "t", "ref": "main", "variables": map[string]any{strings.Repeat("K", 256): "1"}}, "", 400,
			`{"message":"400 Bad request - variables key \"` + strings.Repeat("K", 256) + `\" is too long (maximum is 255 characters)"}`},
		{"longest key", params{"token": "t", "ref": "main", "variables": map[string]any{strings.Repeat("K", 255): "1"}}, "", 0, ""},
		{"too many variables", params{"token": "t", "ref": "main", "variables": map[string]any{"A": "1", "B": "2", "C": "3", "D": "4"}}, "", 400,
			`{"message":"400 Bad request - too many variables (maximum is 3)"}`},
		{"value too long", params{"token": "t", "ref": "main", "variables": map[string]any{"A": "1", "B": "0123456789a"}}, "", 400,
			`{"message":"400 Bad request - variables value of \"B\" is too long (maximum is 10 bytes)"}`},
		{"value at the limit", params{"token": "t", "ref": "main", "variables": map[string]any{"A": "0123456789"}}, "", 0, ""},
		{"value not a string beats the count", params{"token": "t", "ref": "main", "variables": map[string]any{"A": "1", "B": "2", "C": "3", "D": 4.0}}, "", 400,
			`{"message":"variables needs to be a map of key-valued strings"}`},
		{"path ref wins", params{"token": "t", "ref": "refs/heads/x"}, "main", 0, ""},
		{"no limits", params{"token": "t", "ref": "main", "variables": map[string]any{"A": "1", "B": "2", "C": "3", "D": strings.Repeat("x", 20)}}, "", 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lim := VariableLimits{MaxVariables: 3, MaxValueBytes: 10}
			if c.name == "no limits" {
				lim = VariableLimits{}
			}
			req, err := parseTrigger(c.p, c.pathRef, lim)
			if c.status == 0 {
				require.NoError(t, err)
				if c.pathRef != "" {
					require.Equal(t, c.pathRef, req.ref)
				}
				require.NotContains(t, string(req.payload), `"token"`, "TRIGGER_PAYLOAD never carries the token")
				return
			}
			var ae *apiError
			require.ErrorAs(t, err, &ae)
			require.Equal(t, c.status, ae.status)
			rec := httptest.NewRecorder()
			writeJSON(rec, ae.status, ae.body)
			require.JSONEq(t, c.body, rec.Body.String())
		})
	}
}

func TestRedactedPathHidesTokens(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/api/v4/projects/1/trigger/pipeline?ref=main&token=glptt-secret&private_token=p&x=1", nil)
	got := redactedPath(r)
	require.NotContains(t, got, "glptt-secret")
	require.NotContains(t, got, "private_token=p")
	require.Contains(t, got, "ref=main")
}

func TestScopeAllows(t *testing.T) {
	get := httptest.NewRequest(http.MethodGet, "/api/v4/projects/1", nil)
	post := httptest.NewRequest(http.MethodPost, "/api/v4/projects", nil)
	user := httptest.NewRequest(http.MethodGet, "/api/v4/user", nil)
	require.True(t, scopeAllows([]string{"api"}, post))
	require.True(t, scopeAllows([]string{"read_api"}, get))
	require.False(t, scopeAllows([]string{"read_api"}, post))
	require.True(t, scopeAllows([]string{"read_user"}, user))
	require.False(t, scopeAllows([]string{"read_user"}, get))
	require.False(t, scopeAllows(nil, get))
}

// multipartValues keeps what ParseMultipartForm keeps in Value, for what
// clients send: repeated names, a file part (not a value), a part without
// a name, quoted-printable, an empty value.
func TestMultipartValuesAsParseMultipartForm(t *testing.T) {
	part := func(disposition, extra, value string) string {
		return "--b\r\nContent-Disposition: form-data; " + disposition + "\r\n" + extra + "\r\n" + value + "\r\n"
	}
	bodies := map[string]string{
		"fields": part(`name="token"`, "", "t") + part(`name="ref"`, "", "main") +
			part(`name="variables[A]"`, "", "1") + part(`name="variables[A]"`, "", "2") + "--b--\r\n",
		"file and nameless": part(`name="f"; filename="x.txt"`, "Content-Type: text/plain\r\n", "file body") +
			part(`filename="y"`, "", "z") + part(`name="ref"`, "", "") + "--b--\r\n",
		"quoted-printable": part(`name="v"`, "Content-Transfer-Encoding: quoted-printable\r\n", "a=3Db") + "--b--\r\n",
		"no parts":         "--b--\r\n",
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			newReq := func() *http.Request {
				r := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader(body))
				r.Header.Set("Content-Type", "multipart/form-data; boundary=b")
				return r
			}
			r := newReq()
			require.NoError(t, r.ParseMultipartForm(maxBodyBytes))
			got, err := multipartValues(newReq().Body, "b")
			require.NoError(t, err)
			require.Equal(t, url.Values(r.MultipartForm.Value), got)
		})
	}
}

// A body of more parts than ParseMultipartForm allows is refused with 400,
// not read on.
func TestMultipartValuesCapsParts(t *testing.T) {
	var body strings.Builder
	for range maxFormParts + 1 {
		body.WriteString("--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n")
	}
	body.WriteString("--b--\r\n")
	r := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader(body.String()))
	r.Header.Set("Content-Type", "multipart/form-data; boundary=b")
	_, err := readParams(httptest.NewRecorder(), r)
	var apiErr *apiError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusBadRequest, apiErr.status)
}
