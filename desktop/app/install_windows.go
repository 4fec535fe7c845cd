//go:build windows

package app

import (
	"errors"
	"syscall"
	"unsafe"
)

// readRegString reads a REG_SZ value through the standard library's
// registry calls (no extra module for three reads at start).
func readRegString(root syscall.Handle, path, name string) (string, bool) {
	p, err := syscall.UTF16PtrFromString(path)
	if err != nil {
		return "", false
	}
	var k syscall.Handle
	if syscall.RegOpenKeyEx(root, p, 0, syscall.KEY_READ, &k) != nil {
		return "", false
	}
	defer syscall.RegCloseKey(k)
	n, err := syscall.UTF16PtrFromString(name)
	if err != nil {
		return "", false
	}
	var typ, size uint32
	if syscall.RegQueryValueEx(k, n, nil, &typ, nil, &size) != nil || typ != syscall.REG_SZ || size == 0 {
		return "", false
	}
	buf := make([]uint16, size/2+1)
	if syscall.RegQueryValueEx(k, n, nil, &typ, (*byte)(unsafe.Pointer(&buf[0])), &size) != nil {
		return "", false
	}
	return syscall.UTF16ToString(buf), true
}

func hive(name string) syscall.Handle {
	if name == "HKCU" {
		return syscall.HKEY_CURRENT_USER
	}
	return syscall.HKEY_LOCAL_MACHINE
}

// ReadInstallSettings reads what the MSI wrote under HKLM\SOFTWARE\wardsync.
func ReadInstallSettings() InstallSettings {
	return settingsFrom(func(name string) string {
		v, _ := readRegString(syscall.HKEY_LOCAL_MACHINE, InstallKey, name)
		return v
	})
}

// CheckWebView2 refuses to start without the WebView2 runtime, with the
// sentence that names it.
func CheckWebView2() error {
	if webView2Present(func(h, path string) (string, bool) { return readRegString(hive(h), path, "pv") }) {
		return nil
	}
	return errors.New(WebView2Missing)
}

// ShowFatal shows msg in a message box: a GUI program (-H windowsgui) has
// no console for its error.
func ShowFatal(msg string) {
	user32 := syscall.NewLazyDLL("user32.dll")
	box := user32.NewProc("MessageBoxW")
	text, _ := syscall.UTF16PtrFromString(msg)
	title, _ := syscall.UTF16PtrFromString("wardsync")
	const mbIconError = 0x10
	box.Call(0, uintptr(unsafe.Pointer(text)), uintptr(unsafe.Pointer(title)), mbIconError)
}
