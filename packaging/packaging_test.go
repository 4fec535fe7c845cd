package packaging

import (
	"bytes"
	"debug/pe"
	"encoding/binary"
	"image/png"
	"testing"
	"unicode/utf16"
)

func TestIcon(t *testing.T) {
	b, err := PNG(Icon(64))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil || img.Bounds().Dx() != 64 {
		t.Fatalf("png: %v %v", err, img)
	}
	if _, _, _, a := img.At(0, 0).RGBA(); a != 0 {
		t.Error("the corner is not transparent: the square is not rounded")
	}
	if r, g, b, _ := img.At(32, 32).RGBA(); r>>8 != 0xff || g>>8 != 0xff || b>>8 != 0xff {
		t.Error("the centre is not the white cross")
	}
	ico, err := ICO()
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	if le.Uint16(ico[2:]) != 1 || int(le.Uint16(ico[4:])) != len(IconSizes) {
		t.Fatalf("ico header % x", ico[:6])
	}
	for i := range IconSizes {
		e := ico[6+16*i:]
		size, off := le.Uint32(e[8:]), le.Uint32(e[12:])
		if _, err := png.Decode(bytes.NewReader(ico[off : off+size])); err != nil {
			t.Errorf("ico image %d: %v", i, err)
		}
	}
}

func TestSyso(t *testing.T) {
	b, err := Syso(VersionInfo{Major: 1, Minor: 3, Patch: 0, Build: 4, Version: "1.3.0-4-g497cf88", Commit: "497cf88",
		Product: "wardsync", Description: "wardsync ward workstation", FileName: "wardsync-desktop.exe"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := pe.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a COFF object: %v", err)
	}
	if f.Machine != pe.IMAGE_FILE_MACHINE_AMD64 || len(f.Sections) != 1 || f.Sections[0].Name != ".rsrc" {
		t.Fatalf("machine %#x, sections %v", f.Machine, f.Sections)
	}
	sec := f.Sections[0]
	// One relocated data entry per resource: 4 icons, the group, the
	// version information, the manifest.
	if want := len(IconSizes) + 3; len(sec.Relocs) != want {
		t.Errorf("%d relocations, want %d", len(sec.Relocs), want)
	}
	data, err := sec.Data()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"VS_VERSION_INFO", "1.3.0-4-g497cf88", "commit 497cf88", "wardsync-desktop.exe"} {
		if !bytes.Contains(data, utf16le(s)) {
			t.Errorf("the version information lacks %q", s)
		}
	}
	if !bytes.Contains(data, []byte(`name="wardsync.desktop" version="1.3.0.4"`)) || !bytes.Contains(data, []byte("asInvoker")) {
		t.Error("the manifest is missing or names the wrong version")
	}
	// The fixed file version: 1.3 and 0.4.
	i := bytes.Index(data, []byte{0xBD, 0x04, 0xEF, 0xFE})
	if i < 0 || binary.LittleEndian.Uint32(data[i+8:]) != 1<<16|3 || binary.LittleEndian.Uint32(data[i+12:]) != 4 {
		t.Errorf("fixed file version wrong or missing at %d", i)
	}
}

func utf16le(s string) []byte {
	var b []byte
	for _, r := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, r)
	}
	return b
}
