package app

// InstallSettings are what IT gave the Windows installer as silent
// properties (msiexec /i wardsync-desktop-<v>-x64.msi /qn SERVER_URL=…
// CA_FILE=… DEVICE_ID=… CLAIM_CODE=…; docs/install.md). The MSI writes them
// under HKLM\SOFTWARE\wardsync; the desktop reads them at start as the
// defaults of -server, -ca-file and -device, and redeems the claim code on
// a workstation where nobody has logged in yet.
type InstallSettings struct {
	ServerURL, CAFile, DeviceID, ClaimCode string
}

// InstallKey is the registry key (under HKEY_LOCAL_MACHINE) the MSI writes
// InstallSettings to, and installValues the value names it uses.
const InstallKey = `SOFTWARE\wardsync`

var installValues = [...]string{"ServerURL", "CAFile", "DeviceID", "ClaimCode"}

// settingsFrom builds the settings from a registry reader (tests pass a map).
func settingsFrom(read func(name string) string) InstallSettings {
	return InstallSettings{ServerURL: read(installValues[0]), CAFile: read(installValues[1]),
		DeviceID: read(installValues[2]), ClaimCode: read(installValues[3])}
}

// WebView2Missing is the sentence a Windows workstation shows, instead of
// failing silently, when the runtime its window needs is not installed.
const WebView2Missing = "wardsync cannot open its window: the Microsoft Edge WebView2 Runtime is not installed on this PC. " +
	"Ask IT to install the \"Microsoft Edge WebView2 Runtime (Evergreen)\" from Microsoft, then start wardsync again."

// webView2ClientKey is the runtime's EdgeUpdate client id; Microsoft
// documents its "pv" value (the installed version) as the way to detect
// the runtime, per machine (32-bit view on 64-bit Windows, or native) or
// per user.
const webView2ClientKey = `Microsoft\EdgeUpdate\Clients\{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}`

// webView2Keys are where the runtime registers: hive ("HKLM"/"HKCU") and path.
var webView2Keys = [][2]string{
	{"HKLM", `SOFTWARE\WOW6432Node\` + webView2ClientKey},
	{"HKLM", `SOFTWARE\` + webView2ClientKey},
	{"HKCU", `Software\` + webView2ClientKey},
}

// webView2Present says whether any of the runtime's keys holds a real
// version; read returns a key's "pv" value and whether it exists.
func webView2Present(read func(hive, path string) (string, bool)) bool {
	for _, k := range webView2Keys {
		if pv, ok := read(k[0], k[1]); ok && pv != "" && pv != "0.0.0.0" {
			return true
		}
	}
	return false
}
