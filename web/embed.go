// Package web holds the browser front end served at /. It is embedded in the
// binary so the service runs with no files beside it.
package web

import "embed"

// FS holds the front end's files; index.html is the entry page.
//
//go:embed index.html
var FS embed.FS
