// Package api is the ingress's HTTP API: GitLab's REST API v4 for triggering
// pipelines and for what GitLab clients need around it (users, tokens,
// projects, repository files, pipelines). The trigger endpoints are the hot
// path: they authenticate and validate from caches, publish to JetStream and
// wait for the dispatcher's outcome. Management endpoints read and write
// Postgres directly.
package api
