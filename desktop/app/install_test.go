package app

import (
	"strings"
	"testing"
)

func TestWebView2Detection(t *testing.T) {
	keys := func(m map[string]string) func(h, p string) (string, bool) {
		return func(h, p string) (string, bool) { v, ok := m[h+`\`+p]; return v, ok }
	}
	machine := `HKLM\SOFTWARE\WOW6432Node\` + webView2ClientKey
	user := `HKCU\Software\` + webView2ClientKey
	for _, c := range []struct {
		name string
		reg  map[string]string
		want bool
	}{
		{"per machine", map[string]string{machine: "120.0.2210.91"}, true},
		{"per user", map[string]string{user: "119.0.1.0"}, true},
		{"none", map[string]string{}, false},
		{"uninstalled leaves 0.0.0.0", map[string]string{machine: "0.0.0.0"}, false},
		{"empty version", map[string]string{machine: ""}, false},
	} {
		if got := webView2Present(keys(c.reg)); got != c.want {
			t.Errorf("%s: present %v, want %v", c.name, got, c.want)
		}
	}
	if !strings.Contains(WebView2Missing, "Microsoft Edge WebView2 Runtime") {
		t.Errorf("the sentence does not name the runtime: %s", WebView2Missing)
	}
	if CheckWebView2() != nil {
		t.Error("CheckWebView2 refused outside Windows")
	}
}

func TestInstallSettings(t *testing.T) {
	reg := map[string]string{"ServerURL": "https://wardsync.hospital.local", "CAFile": `C:\ProgramData\wardsync\ca.pem`, "DeviceID": "d-1", "ClaimCode": "K7QM-3XZA-PR9D"}
	got := settingsFrom(func(n string) string { return reg[n] })
	want := InstallSettings{ServerURL: reg["ServerURL"], CAFile: reg["CAFile"], DeviceID: "d-1", ClaimCode: "K7QM-3XZA-PR9D"}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
