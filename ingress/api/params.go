package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxBodyBytes caps every request body.
const maxBodyBytes = 1 << 20

var errBodyTooLarge = errors.New("request body too large")

// params are a request's parameters merged as Grape merges them: query
// string, then the body (URL-encoded form, multipart form or JSON), the body
// winning. Bracketed form keys (variables[KEY]=v) become nested maps, so form,
// query and JSON arrive in one shape: string, map[string]any, []any, or a
// JSON scalar (float64, bool, nil).
type params map[string]any

// readParams parses r's query and body. A body over maxBodyBytes is
// errBodyTooLarge; a body that does not parse is a 400, and so is a
// parameter (name or value, at any depth) that is not valid UTF-8 or holds a
// NUL byte: errMalformed.
func readParams(w http.ResponseWriter, r *http.Request) (params, error) {
	p, err := parseParams(w, r)
	if err == nil && malformedValue(map[string]any(p)) {
		return nil, errMalformed
	}
	return p, err
}

// errMalformed is a request carrying a string that no text column can hold:
// invalid UTF-8 or a NUL byte. GitLab's HandleMalformedStrings middleware
// answers it, before any endpoint runs, with 400 and a plain-text
// "Bad Request"; writeError does the same.
var errMalformed = errors.New("malformed string in request")

// malformedString reports whether s is invalid UTF-8 or holds a NUL byte.
func malformedString(s string) bool {
	return !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0
}

// malformedValue reports whether a parameter value, or a key or element
// inside it, is a malformed string.
func malformedValue(v any) bool {
	switch v := v.(type) {
	case string:
		return malformedString(v)
	case map[string]any:
		for k, e := range v {
			if malformedString(k) || malformedValue(e) {
				return true
			}
		}
	case []any:
		for _, e := range v {
			if malformedValue(e) {
				return true
			}
		}
	}
	return false
}

func parseParams(w http.ResponseWriter, r *http.Request) (params, error) {
	p := params{}
	if err := p.addValues(r.URL.Query()); err != nil {
		return nil, err
	}
	if r.Body == nil || r.Body == http.NoBody {
		return p, nil
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	ct, ctParams, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, bodyErr(err)
		}
		if len(strings.TrimSpace(string(body))) == 0 {
			return p, nil
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, messageError(http.StatusBadRequest, "400 Bad request - the request body is not a valid JSON object")
		}
		for k, v := range m {
			p[k] = v
		}
	case "multipart/form-data":
		vals, err := multipartValues(r.Body, ctParams["boundary"])
		if err != nil {
			return nil, bodyErr(err)
		}
		if err := p.addValues(vals); err != nil {
			return nil, err
		}
	case "application/x-www-form-urlencoded", "":
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, bodyErr(err)
		}
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, messageError(http.StatusBadRequest, "400 Bad request - the request body is not valid form data")
		}
		if err := p.addValues(vals); err != nil {
			return nil, err
		}
	default:
		// Other bodies carry no parameters (GitLab ignores them too).
		_, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			return nil, bodyErr(err)
		}
	}
	return p, nil
}

// maxFormParts is the most parts a multipart body may have, as
// ParseMultipartForm allows by default.
const maxFormParts = 1000

// multipartValues reads a multipart/form-data body's named values, as
// ParseMultipartForm keeps them in MultipartForm.Value, part by part,
// without the form of files and the second parse of the query and of the
// content type that ParseMultipartForm makes (16% of the ingress's CPU
// for an async trigger, against 11% for this). A file part is not a
// parameter: NextPart skips what is left of it.
func multipartValues(body io.Reader, boundary string) (url.Values, error) {
	if boundary == "" {
		return nil, http.ErrMissingBoundary
	}
	mr := multipart.NewReader(body, boundary)
	vals := url.Values{}
	var buf bytes.Buffer
	for parts := 0; ; parts++ {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return vals, nil
		}
		if err != nil {
			return nil, err
		}
		if parts == maxFormParts {
			return nil, multipart.ErrMessageTooLarge
		}
		name := part.FormName()
		if name == "" || part.FileName() != "" {
			continue
		}
		buf.Reset()
		if _, err := buf.ReadFrom(part); err != nil {
			return nil, err
		}
		vals[name] = append(vals[name], buf.String())
	}
}

func bodyErr(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) || strings.Contains(err.Error(), "request body too large") {
		return errBodyTooLarge
	}
	return messageError(http.StatusBadRequest, "400 Bad request - the request body could not be read")
}

// addValues merges form values, expanding bracketed keys: a[b]=1 sets
// p["a"]["b"], a[]=1 appends to p["a"]. The last value of a repeated key wins.
func (p params) addValues(vals url.Values) error {
	for key, vs := range vals {
		if len(vs) == 0 {
			continue
		}
		name, rest, nested := strings.Cut(key, "[")
		if !nested {
			p[name] = vs[len(vs)-1]
			continue
		}
		path := []string{}
		for _, seg := range strings.Split(strings.TrimSuffix(rest, "]"), "][") {
			path = append(path, seg)
		}
		for _, v := range vs {
			p.setPath(name, path, v)
		}
	}
	return nil
}

// setPath stores v under name and the bracket path. A path that clashes with
// a plain value already there replaces it with a map, and the map is what
// validation then sees.
func (p params) setPath(name string, path []string, v string) {
	if len(path) == 1 && path[0] == "" {
		list, _ := p[name].([]any)
		p[name] = append(list, v)
		return
	}
	m, ok := p[name].(map[string]any)
	if !ok {
		m = map[string]any{}
		p[name] = m
	}
	for i, seg := range path {
		if i == len(path)-1 {
			m[seg] = v
			return
		}
		next, ok := m[seg].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[seg] = next
		}
		m = next
	}
}

// has reports whether a parameter was given at all.
func (p params) has(name string) bool {
	_, ok := p[name]
	return ok
}

// str returns a parameter as a string. JSON numbers and booleans are
// accepted as their text, as Grape coerces them; maps and lists are not.
func (p params) str(name string) (string, bool) {
	switch v := p[name].(type) {
	case string:
		return v, true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}

// requiredString is a parameter that must be present: GitLab answers
// "<name> is missing" when it is not and "<name> is invalid" when it is not a
// string.
func (p params) requiredString(name string) (string, error) {
	if !p.has(name) || p[name] == nil {
		return "", paramError(name + " is missing")
	}
	s, ok := p.str(name)
	if !ok {
		return "", paramError(name + " is invalid")
	}
	return s, nil
}

// optionalString returns a string parameter, "" when absent, and a 400 when
// present but not a string.
func (p params) optionalString(name string) (string, bool, error) {
	if !p.has(name) || p[name] == nil {
		return "", false, nil
	}
	s, ok := p.str(name)
	if !ok {
		return "", false, paramError(name + " is invalid")
	}
	return s, true, nil
}

// optionalInt returns an integer parameter.
func (p params) optionalInt(name string) (int64, bool, error) {
	s, ok, err := p.optionalString(name)
	if err != nil || !ok {
		return 0, false, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, false, paramError(name + " is invalid")
	}
	return n, true, nil
}

// optionalBool returns a boolean parameter ("true"/"false", 1/0).
func (p params) optionalBool(name string) (bool, bool, error) {
	s, ok, err := p.optionalString(name)
	if err != nil || !ok {
		return false, false, err
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, false, paramError(name + " is invalid")
	}
	return b, true, nil
}
