//go:build !windows

package app

// ReadInstallSettings: only the Windows installer writes settings; the
// Linux package leaves them to flags and $WARDSYNC_* variables.
func ReadInstallSettings() InstallSettings { return InstallSettings{} }

// CheckWebView2: WebKitGTK is a dependency of the .deb, nothing to check.
func CheckWebView2() error { return nil }

// ShowFatal: the error already went to stderr.
func ShowFatal(string) {}
