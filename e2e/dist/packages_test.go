package dist

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"wardsync/internal/pgtest"
)

// TestChecksums: SHA256SUMS lists every artefact, and each matches.
func TestChecksums(t *testing.T) {
	needDist(t)
	cmd := exec.Command("sha256sum", "--check", "--strict", "SHA256SUMS")
	cmd.Dir = distDir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sha256sum --check: %v\n%s", err, out)
	}
	entries, _ := os.ReadDir(distDir)
	var files []string
	for _, e := range entries {
		if e.Name() != "SHA256SUMS" {
			files = append(files, e.Name())
		}
	}
	sort.Strings(files)
	// Two .deb, the MSI, the station for Linux and for Windows.
	if got := strings.Count(string(out), ": OK"); got != len(files) || len(files) != 5 {
		t.Errorf("SHA256SUMS checked %d files; dist/ holds %d (want 5): %v", got, len(files), files)
	}
	t.Logf("dist/: %s", strings.Join(files, ", "))
}

// TestServerDeb: the server's package, read with dpkg-deb and unpacked
// into a scratch root: its binary states the version and migrates a fresh
// database; its unit runs as wardsync, hardened, configured by the env
// file, migrating before it starts, logging to the journal.
func TestServerDeb(t *testing.T) {
	r := needDist(t)
	need(t, "dpkg-deb")
	deb := artefact(t, "wardsync-server_"+r.deb+"_amd64.deb")
	info := run(t, "dpkg-deb", "--info", deb)
	mustContain(t, "dpkg-deb --info", info, "Package: wardsync-server", "Version: "+r.deb, "Architecture: amd64",
		"Depends: passwd, systemd", " postinst ", " prerm ", " postrm ", " conffiles ")
	contents := run(t, "dpkg-deb", "--contents", deb)
	mustContain(t, "dpkg-deb --contents", contents, "./usr/bin/wardsync-server", "./lib/systemd/system/wardsync-server.service",
		"./etc/wardsync/wardsync.env", "./usr/share/doc/wardsync-server/install.md", "root/root")

	root := t.TempDir()
	run(t, "dpkg-deb", "--extract", deb, root)
	run(t, "dpkg-deb", "--control", deb, filepath.Join(root, "DEBIAN"))
	postinst, _ := os.ReadFile(filepath.Join(root, "DEBIAN", "postinst"))
	mustContain(t, "postinst", string(postinst), "useradd --system", "wardsync", "chmod 0640 /etc/wardsync/wardsync.env")
	conffiles, _ := os.ReadFile(filepath.Join(root, "DEBIAN", "conffiles"))
	mustContain(t, "conffiles", string(conffiles), "/etc/wardsync/wardsync.env")

	bin := filepath.Join(root, "usr", "bin", "wardsync-server")
	out := run(t, bin, "version")
	if !strings.HasPrefix(out, "wardsync-server "+r.version+" (commit ") {
		t.Errorf("wardsync-server version: %q, want release %s", out, r.version)
	}
	t.Logf("unpacked server: %s", strings.TrimSpace(out))
	// A fresh, empty database of the test cluster.
	url := pgtest.NewDatabase(t, false)
	cmd := exec.CommandContext(context.Background(), bin, "migrate")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+url)
	mig, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(mig), "migrated: ") || strings.Contains(string(mig), "migrated: 0 ") {
		t.Fatalf("wardsync-server migrate: %v\n%s", err, mig)
	}
	t.Logf("unpacked server: %s", strings.TrimSpace(strings.SplitN(string(mig), "[", 2)[0]))

	unitPath := filepath.Join(root, "lib", "systemd", "system", "wardsync-server.service")
	unit, _ := os.ReadFile(unitPath)
	mustContain(t, "the unit", string(unit), "User=wardsync", "EnvironmentFile=/etc/wardsync/wardsync.env",
		"ExecStartPre=/usr/bin/wardsync-server migrate", "ExecStart=/usr/bin/wardsync-server serve",
		"NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "StandardOutput=journal",
		"Restart=on-failure", "WantedBy=multi-user.target")
	env, _ := os.ReadFile(filepath.Join(root, "etc", "wardsync", "wardsync.env"))
	mustContain(t, "wardsync.env", string(env), "DATABASE_URL=", "WARDSYNC_ADDR=", "WARDSYNC_MIN_WORKSTATION_VERSION",
		// Escrow on by default: a real deployment needs it (docs/security.md).
		"\nWARDSYNC_ESCROW_KEY_FILE=/var/lib/wardsync/escrow.key\n")

	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Logf("systemd-analyze verify skipped: systemd-analyze is not installed (%v)", err)
		return
	}
	// The unit as installed, but pointing at the unpacked binary: verify
	// checks that its commands exist (--root would also need the host's
	// targets inside the scratch root). Warnings count as failures.
	check := filepath.Join(t.TempDir(), "wardsync-server.service")
	os.WriteFile(check, []byte(strings.ReplaceAll(string(unit), "/usr/bin/wardsync-server", bin)), 0o644)
	vout, err := exec.Command("systemd-analyze", "verify", check).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(vout))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, vout)
	} else {
		t.Logf("systemd-analyze verify: the unit is clean")
	}
}

// TestDesktopDeb: the desktop's package depends on WebKitGTK 4.1 and
// installs the binary, a .desktop entry and the icon.
func TestDesktopDeb(t *testing.T) {
	r := needDist(t)
	need(t, "dpkg-deb")
	deb := artefact(t, "wardsync-desktop_"+r.deb+"_amd64.deb")
	info := run(t, "dpkg-deb", "--info", deb)
	mustContain(t, "dpkg-deb --info", info, "Package: wardsync-desktop", "Version: "+r.deb, "libwebkit2gtk-4.1-0")
	contents := run(t, "dpkg-deb", "--contents", deb)
	mustContain(t, "dpkg-deb --contents", contents, "./usr/bin/wardsync-desktop", "./usr/share/applications/wardsync.desktop",
		"./usr/share/icons/hicolor/256x256/apps/wardsync.png", "./usr/share/icons/hicolor/48x48/apps/wardsync.png")
	root := t.TempDir()
	run(t, "dpkg-deb", "--extract", deb, root)
	entry, _ := os.ReadFile(filepath.Join(root, "usr", "share", "applications", "wardsync.desktop"))
	mustContain(t, "wardsync.desktop", string(entry), "Exec=wardsync-desktop", "Icon=wardsync", "Type=Application")
	out := run(t, filepath.Join(root, "usr", "bin", "wardsync-desktop"), "-version")
	if !strings.HasPrefix(out, "wardsync-desktop "+r.version+" (commit ") {
		t.Errorf("wardsync-desktop -version: %q", out)
	}
}

// TestMSI: the Windows installer, read with msiinfo: its version, the
// silent-install properties written to the registry, the executable (with
// its version resource), the Start menu entries and the uninstaller.
func TestMSI(t *testing.T) {
	r := needDist(t)
	need(t, "msiinfo", "msiextract")
	msi := artefact(t, "wardsync-desktop-"+r.version+"-x64.msi")
	props := run(t, "msiinfo", "export", msi, "Property")
	mustContain(t, "Property table", props, "ProductName\twardsync", "ProductVersion\t"+r.msi, "ALLUSERS\t1",
		"UpgradeCode\t{6F1E2A37-9C54-4B0E-A8D2-3E7B5C1D9A40}", "ARPPRODUCTICON\twardsync.ico")
	reg := run(t, "msiinfo", "export", msi, "Registry")
	for _, p := range [][2]string{{"ServerURL", "SERVER_URL"}, {"CAFile", "CA_FILE"}, {"DeviceID", "DEVICE_ID"}, {"ClaimCode", "CLAIM_CODE"}} {
		mustContain(t, "Registry table", reg, "SOFTWARE\\wardsync\\\t"+p[0]+"\t["+p[1]+"]")
	}
	files := run(t, "msiinfo", "export", msi, "File")
	mustContain(t, "File table", files, "wardsync-desktop.exe")
	shortcuts := run(t, "msiinfo", "export", msi, "Shortcut")
	mustContain(t, "Shortcut table", shortcuts, "[INSTALLDIR]wardsync-desktop.exe", "[System64Folder]msiexec.exe\t/x [ProductCode]")
	dirs := run(t, "msiinfo", "export", msi, "Directory")
	mustContain(t, "Directory table", dirs, "ProgramFiles64Folder", "ProgramMenuFolder")
	upgrade := run(t, "msiinfo", "export", msi, "Upgrade")
	mustContain(t, "Upgrade table", upgrade, "WIX_UPGRADE_DETECTED")
	sum := run(t, "msiinfo", "suminfo", msi)
	mustContain(t, "summary", sum, "Template: x64;1033", r.version)

	dir := t.TempDir()
	cmd := exec.Command("msiextract", "-C", dir, msi)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("msiextract: %v\n%s", err, out)
	}
	var exe string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Name() == "wardsync-desktop.exe" {
			exe = p
		}
		return nil
	})
	if exe == "" {
		t.Fatal("the MSI holds no wardsync-desktop.exe")
	}
	for _, s := range []string{"VS_VERSION_INFO", r.version, "wardsync ward workstation"} {
		if !fileContains(t, exe, utf16le(s)) {
			t.Errorf("the executable's version resource lacks %q", s)
		}
	}
	if !fileContains(t, exe, []byte(`requestedExecutionLevel level="asInvoker"`)) {
		t.Error("the executable carries no manifest")
	}
	t.Logf("MSI %s: ProductVersion %s, properties SERVER_URL CA_FILE DEVICE_ID CLAIM_CODE, %s", filepath.Base(msi), r.msi, filepath.Base(exe))
}
