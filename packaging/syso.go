package packaging

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"
	"unicode/utf16"
)

// Windows resource types.
const (
	rtIcon      = 3
	rtGroupIcon = 14
	rtVersion   = 16
	rtManifest  = 24
)

// langEnUS is the language every resource is filed under.
const langEnUS = 0x0409

// VersionInfo is what Explorer's Details tab and the MSI's file table show.
type VersionInfo struct {
	// Major, Minor, Patch and Build make the numeric file version.
	Major, Minor, Patch, Build uint16
	// Version is the full release text (e.g. "1.3.0-4-g497cf88").
	Version     string
	Commit      string
	Product     string // "wardsync"
	Description string // "wardsync ward workstation"
	Company     string
	FileName    string // "wardsync-desktop.exe"
}

// Manifest is the application manifest: runs as the invoking user (no
// elevation prompt), per-monitor DPI aware, common controls v6 (WebView2
// windows' dialogs), Windows 10 and 11.
const Manifest = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<assembly xmlns="urn:schemas-microsoft-com:asm.v1" manifestVersion="1.0" xmlns:asmv3="urn:schemas-microsoft-com:asm.v3">
  <assemblyIdentity type="win32" name="wardsync.desktop" version="%d.%d.%d.%d" processorArchitecture="amd64"/>
  <description>wardsync ward workstation</description>
  <dependency>
    <dependentAssembly>
      <assemblyIdentity type="win32" name="Microsoft.Windows.Common-Controls" version="6.0.0.0" processorArchitecture="*" publicKeyToken="6595b64144ccf1df" language="*"/>
    </dependentAssembly>
  </dependency>
  <trustInfo xmlns="urn:schemas-microsoft-com:asm.v3">
    <security><requestedPrivileges><requestedExecutionLevel level="asInvoker" uiAccess="false"/></requestedPrivileges></security>
  </trustInfo>
  <compatibility xmlns="urn:schemas-microsoft-com:compatibility.v1">
    <application><supportedOS Id="{8e0f7a12-bfb3-4fe8-b9a5-48fd50a15a9a}"/></application>
  </compatibility>
  <asmv3:application>
    <asmv3:windowsSettings>
      <dpiAware xmlns="http://schemas.microsoft.com/SMI/2005/WindowsSettings">true/pm</dpiAware>
      <dpiAwareness xmlns="http://schemas.microsoft.com/SMI/2016/WindowsSettings">permonitorv2,permonitor</dpiAwareness>
    </asmv3:windowsSettings>
  </asmv3:application>
</assembly>
`

type resource struct {
	typ, id uint16
	data    []byte
}

// Syso is a COFF object for amd64 holding the icon, the version
// information and the manifest, ready to be linked by `go build` when it
// sits in the main package's folder as *_windows_amd64.syso.
func Syso(v VersionInfo) ([]byte, error) {
	imgs, err := iconImages()
	if err != nil {
		return nil, err
	}
	var res []resource
	le := binary.LittleEndian
	group := le.AppendUint16(nil, 0)
	group = le.AppendUint16(group, 1)
	group = le.AppendUint16(group, uint16(len(imgs)))
	for i, img := range imgs {
		res = append(res, resource{rtIcon, uint16(i + 1), img})
		group = append(group, dirEntry(IconSizes[i], len(img))...)
		group = le.AppendUint16(group, uint16(i+1))
	}
	res = append(res, resource{rtGroupIcon, 1, group})
	res = append(res, resource{rtVersion, 1, versionResource(v)})
	res = append(res, resource{rtManifest, 1, fmt.Appendf(nil, Manifest, v.Major, v.Minor, v.Patch, v.Build)})
	return coff(res), nil
}

// coff lays out the resource directory (type → id → language → data
// entry) in one .rsrc section. A data entry holds the RVA of its data: the
// linker fixes it up through an ADDR32NB relocation against the section.
func coff(res []resource) []byte {
	sort.Slice(res, func(i, j int) bool {
		if res[i].typ != res[j].typ {
			return res[i].typ < res[j].typ
		}
		return res[i].id < res[j].id
	})
	le := binary.LittleEndian
	var types []uint16
	byType := map[uint16][]int{}
	for i, r := range res {
		if len(byType[r.typ]) == 0 {
			types = append(types, r.typ)
		}
		byType[r.typ] = append(byType[r.typ], i)
	}
	dirSize := func(n int) int { return 16 + 8*n }
	// Offsets: the root, then one directory per type, then one language
	// directory per resource, then the data entries, then the data.
	off := dirSize(len(types))
	typeDir := map[uint16]int{}
	for _, t := range types {
		typeDir[t] = off
		off += dirSize(len(byType[t]))
	}
	langDir := make([]int, len(res))
	for i := range res {
		langDir[i] = off
		off += dirSize(1)
	}
	entry := make([]int, len(res))
	for i := range res {
		entry[i] = off
		off += 16
	}
	dataAt := make([]int, len(res))
	for i, r := range res {
		off = (off + 7) &^ 7
		dataAt[i] = off
		off += len(r.data)
	}
	sec := make([]byte, (off+7)&^7)
	dir := func(at, n int) int {
		le.PutUint16(sec[at+14:], uint16(n)) // id entries
		return at + 16
	}
	const subdir = 0x80000000
	p := dir(0, len(types))
	for _, t := range types {
		le.PutUint32(sec[p:], uint32(t))
		le.PutUint32(sec[p+4:], uint32(typeDir[t])|subdir)
		p += 8
	}
	for _, t := range types {
		p := dir(typeDir[t], len(byType[t]))
		for _, i := range byType[t] {
			le.PutUint32(sec[p:], uint32(res[i].id))
			le.PutUint32(sec[p+4:], uint32(langDir[i])|subdir)
			p += 8
		}
	}
	var relocs []int
	for i, r := range res {
		p := dir(langDir[i], 1)
		le.PutUint32(sec[p:], langEnUS)
		le.PutUint32(sec[p+4:], uint32(entry[i]))
		le.PutUint32(sec[entry[i]:], uint32(dataAt[i]))
		le.PutUint32(sec[entry[i]+4:], uint32(len(r.data)))
		relocs = append(relocs, entry[i])
		copy(sec[dataAt[i]:], r.data)
	}

	var b bytes.Buffer
	const fileHeader, sectionHeader = 20, 40
	rawAt := fileHeader + sectionHeader
	relocAt := rawAt + len(sec)
	symAt := relocAt + 10*len(relocs)
	// File header: AMD64, one section, the symbol table, no optional header.
	b.Write(le.AppendUint16(nil, 0x8664))
	b.Write(le.AppendUint16(nil, 1))
	b.Write(le.AppendUint32(nil, 0))
	b.Write(le.AppendUint32(nil, uint32(symAt)))
	b.Write(le.AppendUint32(nil, 1))
	b.Write(le.AppendUint16(nil, 0))
	b.Write(le.AppendUint16(nil, 0))
	// Section header: .rsrc, initialised read-only data.
	b.WriteString(".rsrc\x00\x00\x00")
	b.Write(le.AppendUint32(nil, 0))
	b.Write(le.AppendUint32(nil, 0))
	b.Write(le.AppendUint32(nil, uint32(len(sec))))
	b.Write(le.AppendUint32(nil, uint32(rawAt)))
	b.Write(le.AppendUint32(nil, uint32(relocAt)))
	b.Write(le.AppendUint32(nil, 0))
	b.Write(le.AppendUint16(nil, uint16(len(relocs))))
	b.Write(le.AppendUint16(nil, 0))
	b.Write(le.AppendUint32(nil, 0x40000040))
	b.Write(sec)
	const relAddr32NB = 3
	for _, r := range relocs {
		b.Write(le.AppendUint32(nil, uint32(r)))
		b.Write(le.AppendUint32(nil, 0)) // symbol 0: the section
		b.Write(le.AppendUint16(nil, relAddr32NB))
	}
	// Symbol: the section itself (static), then an empty string table.
	b.WriteString(".rsrc\x00\x00\x00")
	b.Write(le.AppendUint32(nil, 0))
	b.Write(le.AppendUint16(nil, 1))
	b.Write(le.AppendUint16(nil, 0))
	b.Write([]byte{3, 0})
	b.Write(le.AppendUint32(nil, 4))
	return b.Bytes()
}

// versionResource is a VS_VERSIONINFO block: the fixed numeric versions
// and the English strings Explorer shows.
func versionResource(v VersionInfo) []byte {
	le := binary.LittleEndian
	fixed := le.AppendUint32(nil, 0xFEEF04BD)
	fixed = le.AppendUint32(fixed, 0x00010000)
	ms, ls := uint32(v.Major)<<16|uint32(v.Minor), uint32(v.Patch)<<16|uint32(v.Build)
	fixed = le.AppendUint32(fixed, ms)
	fixed = le.AppendUint32(fixed, ls)
	fixed = le.AppendUint32(fixed, ms)
	fixed = le.AppendUint32(fixed, ls)
	fixed = le.AppendUint32(fixed, 0x3F)       // flags mask
	fixed = le.AppendUint32(fixed, 0)          // flags
	fixed = le.AppendUint32(fixed, 0x00040004) // VOS_NT_WINDOWS32
	fixed = le.AppendUint32(fixed, 1)          // VFT_APP
	fixed = le.AppendUint32(fixed, 0)
	fixed = le.AppendUint32(fixed, 0)
	fixed = le.AppendUint32(fixed, 0)
	strs := [][2]string{
		{"CompanyName", v.Company},
		{"FileDescription", v.Description},
		{"FileVersion", v.Version},
		{"InternalName", v.FileName},
		{"OriginalFilename", v.FileName},
		{"ProductName", v.Product},
		{"ProductVersion", v.Version},
		{"Comments", "commit " + v.Commit},
	}
	var table []byte
	for _, s := range strs {
		val := utf16z(s[1])
		table = append(pad4(table), block(s[0], 1, len(val)/2, val, nil)...)
	}
	stringFileInfo := block("StringFileInfo", 1, 0, nil, block("040904B0", 1, 0, nil, table))
	translation := le.AppendUint16(nil, langEnUS)
	translation = le.AppendUint16(translation, 1200) // Unicode
	varFileInfo := block("VarFileInfo", 1, 0, nil, block("Translation", 0, len(translation), translation, nil))
	return block("VS_VERSION_INFO", 0, len(fixed), fixed, append(pad4(stringFileInfo), varFileInfo...))
}

// block is one node of a version resource: wLength, wValueLength, wType,
// the key, padding, the value, padding, the children (each 4-aligned).
func block(key string, typ uint16, valueLen int, value, children []byte) []byte {
	le := binary.LittleEndian
	b := make([]byte, 6)
	b = append(b, utf16z(key)...)
	b = pad4(b)
	b = append(b, value...)
	if len(children) > 0 {
		b = append(pad4(b), children...)
	}
	le.PutUint16(b[0:], uint16(len(b)))
	le.PutUint16(b[2:], uint16(valueLen))
	le.PutUint16(b[4:], typ)
	return b
}

func utf16z(s string) []byte {
	var b []byte
	for _, r := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, r)
	}
	return append(b, 0, 0)
}

func pad4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}
