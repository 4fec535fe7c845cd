package desktop_test

import (
	"image"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"wardsync/server/postgres"
)

// TestWindowScreenshots checks the real window's screenshots that
// scripts/shot.sh (make shot) took of the production binary under Xvfb:
// the login screen and a nurse's dashboard, each a full 1280x800 screen
// with enough distinct colours to be a drawn page (a blank or black window
// has one or two), and different from each other. make sets
// $WARDSYNC_WINDOW_SHOTS to the folder right after taking them; without it
// the test skips.
func TestWindowScreenshots(t *testing.T) {
	dir := windowShots(t, "run `make shot` then this test with WARDSYNC_WINDOW_SHOTS=build/screenshots (make test does)")
	var prints []map[uint32]int
	for _, name := range []string{"window-login.png", "window-nurse.png"} {
		path := filepath.Join(dir, name)
		st, err := os.Stat(path)
		if err != nil {
			t.Fatalf("%s: %v (make shot takes it)", name, err)
		}
		if age := time.Since(st.ModTime()); age > 30*time.Minute {
			t.Errorf("%s is %s old: not from this run", name, age.Round(time.Second))
		}
		img := decode(t, path)
		if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 800 {
			t.Errorf("%s is %dx%d, want the whole 1280x800 screen", name, b.Dx(), b.Dy())
		}
		hist := histogram(img)
		top := 0
		for _, n := range hist {
			top = max(top, n)
		}
		share := float64(top) / float64(img.Bounds().Dx()*img.Bounds().Dy())
		t.Logf("%s: %d distinct colours, the commonest covers %.0f%%", name, len(hist), 100*share)
		if len(hist) < 32 {
			t.Errorf("%s has %d distinct colours: a blank window, not a page", name, len(hist))
		}
		if share > 0.97 {
			t.Errorf("%s is %.0f%% one colour: nothing drawn", name, 100*share)
		}
		prints = append(prints, hist)
	}
	if len(prints) == 2 && sameHistogram(prints[0], prints[1]) {
		t.Error("the nurse's dashboard looks exactly like the login screen: the login did not happen")
	}
}

func decode(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

func histogram(img image.Image) map[uint32]int {
	h := map[uint32]int{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			h[(r>>8)<<16|(g>>8)<<8|bl>>8]++
		}
	}
	return h
}

func sameHistogram(a, b map[uint32]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// make run opens the desktop app on the seed's demo workstation, whose id
// mk/desktop.mk spells out: it must be the seed's.
func TestDemoDeviceInMakefile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "mk", "desktop.mk"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^DEMO_DEVICE \?= (\S+)`).FindSubmatch(b)
	if m == nil || string(m[1]) != postgres.DemoDeviceID {
		t.Fatalf("mk/desktop.mk DEMO_DEVICE = %q, the seed's demo workstation is %s", m, postgres.DemoDeviceID)
	}
}
