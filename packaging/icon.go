// Package packaging makes what the installers need and Go does not: the
// application icon (PNG for Linux, ICO for Windows) and the Windows
// resources (icon, version information, manifest) as a COFF object (.syso)
// that `go build` links into the desktop executable. Standard library only,
// so that `make dist` needs no resource compiler. scripts/dist.sh drives it
// through cmd/wardsync-pack.
package packaging

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/png"
	"math"
)

// Icon draws the wardsync icon at size×size: a rounded teal square with a
// white cross (care) over a sync arc. Drawn, not stored, so that every
// size is sharp and no binary sits in the repository.
func Icon(size int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	s := float64(size)
	teal := color.NRGBA{R: 0x0f, G: 0x76, B: 0x6e, A: 0xff}
	r := s * 0.18 // corner radius
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			px, py := float64(x)+0.5, float64(y)+0.5
			cov := roundedCoverage(px, py, s, r)
			if cov <= 0 {
				continue
			}
			c := teal
			// The cross: two bars, a fifth of the size wide.
			cx, cy := math.Abs(px-s/2), math.Abs(py-s/2)
			if (cx < s*0.10 && cy < s*0.30) || (cy < s*0.10 && cx < s*0.30) {
				c = color.NRGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xff}
			}
			// The sync ring around it.
			d := math.Hypot(px-s/2, py-s/2)
			if d > s*0.36 && d < s*0.42 && !(px > s/2 && py < s/2 && py > s/2-s*0.2) {
				c = color.NRGBA{R: 0xcc, G: 0xfb, B: 0xf1, A: 0xff}
			}
			c.A = uint8(math.Round(255 * cov))
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

// roundedCoverage is 1 inside the rounded square, 0 outside, and a ramp
// over one pixel at the corners (cheap anti-aliasing).
func roundedCoverage(px, py, s, r float64) float64 {
	qx := math.Max(math.Max(r-px, px-(s-r)), 0)
	qy := math.Max(math.Max(r-py, py-(s-r)), 0)
	d := math.Hypot(qx, qy) - r
	return math.Min(math.Max(0.5-d, 0), 1)
}

// PNG encodes an icon.
func PNG(img image.Image) ([]byte, error) {
	var b bytes.Buffer
	err := png.Encode(&b, img)
	return b.Bytes(), err
}

// IconSizes are the sizes of the Windows icon (256 is stored as PNG, which
// Windows reads since Vista; the small ones too, to keep one code path).
var IconSizes = []int{16, 32, 48, 256}

// iconImages renders the icon at every size as PNG.
func iconImages() ([][]byte, error) {
	var out [][]byte
	for _, n := range IconSizes {
		b, err := PNG(Icon(n))
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// ICO is a .ico file holding the icon at IconSizes.
func ICO() ([]byte, error) {
	imgs, err := iconImages()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	le := binary.LittleEndian
	b.Write(le.AppendUint16(nil, 0))
	b.Write(le.AppendUint16(nil, 1)) // icon
	b.Write(le.AppendUint16(nil, uint16(len(imgs))))
	off := 6 + 16*len(imgs)
	for i, img := range imgs {
		b.Write(dirEntry(IconSizes[i], len(img)))
		b.Write(le.AppendUint32(nil, uint32(off)))
		off += len(img)
	}
	for _, img := range imgs {
		b.Write(img)
	}
	return b.Bytes(), nil
}

// dirEntry is the common head of an ICONDIRENTRY and a GRPICONDIRENTRY:
// width, height (0 means 256), colours, reserved, planes, bits, size.
func dirEntry(size, n int) []byte {
	w := byte(size)
	if size >= 256 {
		w = 0
	}
	le := binary.LittleEndian
	out := []byte{w, w, 0, 0}
	out = le.AppendUint16(out, 1)
	out = le.AppendUint16(out, 32)
	return le.AppendUint32(out, uint32(n))
}
