package api

import (
	"net/http"
	"regexp"
	"sort"
	"strconv"

	"github.com/triggerd/triggerd/internal/store"
)

// Variable limits. GitLab's model (Ci::HasVariable) requires a key of
// letters, digits and '_', at most 255 characters; how many variables a
// trigger carries and how large a value is are bounded by VariableLimits.
const maxVariableKey = 255

// variableKeyFormat is the key format of GitLab's Ci::HasVariable.
var variableKeyFormat = regexp.MustCompile(`^[a-zA-Z0-9_]+$`)

// VariableLimits bound the variables of one trigger request. Zero or less
// means no bound; the request body is capped at 1 MiB in any case.
type VariableLimits struct {
	// MaxVariables is how many variables a trigger may carry.
	MaxVariables int
	// MaxValueBytes is the largest variable value, in bytes.
	MaxValueBytes int
}

// variableKeyProblems are GitLab's validation messages for a variable key,
// in GitLab's order; none when the key is valid.
func variableKeyProblems(key string) []string {
	var problems []string
	if key == "" {
		problems = append(problems, "can't be blank")
	}
	if len(key) > maxVariableKey {
		problems = append(problems, "is too long (maximum is 255 characters)")
	}
	if !variableKeyFormat.MatchString(key) {
		problems = append(problems, "can contain only letters, digits and '_'.")
	}
	return problems
}

// triggerVariables checks a trigger's variables against GitLab's rules and
// lim, and returns them sorted by key. Every failure is a 400 in GitLab's
// endpoint shape, {"message":"400 Bad request - <reason>"}, naming the key.
func triggerVariables(vars map[string]any, lim VariableLimits) ([]store.Variable, error) {
	for _, v := range vars {
		if _, ok := v.(string); !ok {
			return nil, messageError(http.StatusBadRequest, "variables needs to be a map of key-valued strings")
		}
	}
	if lim.MaxVariables > 0 && len(vars) > lim.MaxVariables {
		return nil, badRequest("too many variables (maximum is " + strconv.Itoa(lim.MaxVariables) + ")")
	}
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]store.Variable, 0, len(keys))
	for _, k := range keys {
		if problems := variableKeyProblems(k); len(problems) > 0 {
			return nil, badRequest("variables key " + strconv.Quote(k) + " " + problems[0])
		}
		v := vars[k].(string)
		if lim.MaxValueBytes > 0 && len(v) > lim.MaxValueBytes {
			return nil, badRequest("variables value of " + strconv.Quote(k) + " is too long (maximum is " +
				strconv.Itoa(lim.MaxValueBytes) + " bytes)")
		}
		out = append(out, store.Variable{Key: k, Value: v, VariableType: "env_var"})
	}
	return out, nil
}
