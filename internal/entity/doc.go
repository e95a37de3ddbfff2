// Package entity renders the service's data as GitLab's REST API v4 entities:
// the same field names, field order, null-ness and time format, because
// stock GitLab clients decode them. Renderers take store rows and the external
// URL the service is reached at (for web_url and similar fields).
package entity
