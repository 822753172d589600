// Package web holds the browser front end served at /: the MapLibre map
// built by Vite (`npm run build` in this folder, run by `make build`) into
// dist/, which is embedded in the binary so the service runs with no files
// beside it.
package web

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

// FS returns the built front end; index.html is the entry page, assets/
// holds the scripts and styles, named by their content's hash.
func FS() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // "dist" is a valid path; fs.Sub fails only on invalid ones
	}
	return sub
}
