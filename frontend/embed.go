// Package frontend holds the TypeScript UIs (Vite): the admin dashboard
// (admin.html, served by wardsync-server at /admin) and, later, the desktop
// app (index.html, served by Wails). Dist is the build, embedded.
//
// frontend/dist/.keep is a placeholder so that the embed compiles on a fresh
// clone before any npm build; `make frontend` (npm ci && npm run build)
// fills dist and keeps the placeholder.
package frontend

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

// Dist is the built frontend, rooted at dist/ (admin.html, assets/…).
var Dist fs.FS = mustSub(dist, "dist")

// HasAdmin says whether the admin dashboard was built into Dist.
func HasAdmin() bool {
	_, err := fs.Stat(Dist, "admin.html")
	return err == nil
}

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err) // the embed pattern guarantees the folder
	}
	return sub
}
