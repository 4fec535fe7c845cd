// Command wardsync-pack writes the files `make dist` needs beside the Go
// builds (scripts/dist.sh):
//
//	wardsync-pack png -size 256 -o icon.png      the application icon
//	wardsync-pack ico -o wardsync.ico            the icon for Windows shortcuts
//	wardsync-pack syso -version 1.3.0-4-gabc -commit abc -o rsrc_windows_amd64.syso
//	                                             icon, version information and manifest
//	                                             for the desktop's Windows executable
package main

import (
	"flag"
	"fmt"
	"os"

	"wardsync/packaging"
	"wardsync/syncproto"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "wardsync-pack:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: wardsync-pack png|ico|syso [flags]")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	out := fs.String("o", "", "output file")
	size := fs.Int("size", 256, "png: edge in pixels")
	ver := fs.String("version", "", "syso: the release, MAJOR.MINOR.PATCH[-N-gCOMMIT]")
	commit := fs.String("commit", "", "syso: the git commit")
	build := fs.Int("build", 0, "syso: the fourth number of the file version (commits since the release)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("%s: -o is required", args[0])
	}
	var data []byte
	var err error
	switch args[0] {
	case "png":
		if *size < 16 || *size > 1024 {
			return fmt.Errorf("png: -size must be 16 to 1024, got %d", *size)
		}
		data, err = packaging.PNG(packaging.Icon(*size))
	case "ico":
		data, err = packaging.ICO()
	case "syso":
		v, perr := syncproto.ParseVersion(*ver)
		if perr != nil {
			return fmt.Errorf("syso: -version: %w", perr)
		}
		data, err = packaging.Syso(packaging.VersionInfo{
			Major: uint16(v.Major), Minor: uint16(v.Minor), Patch: uint16(v.Patch), Build: uint16(*build),
			Version: *ver, Commit: *commit, Product: "wardsync", Description: "wardsync ward workstation",
			Company: "wardsync", FileName: "wardsync-desktop.exe",
		})
	default:
		return fmt.Errorf("unknown command %q: use png, ico or syso", args[0])
	}
	if err != nil {
		return err
	}
	return os.WriteFile(*out, data, 0o644)
}
