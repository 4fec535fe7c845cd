package cryptvfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"iter"

	"modernc.org/libc"
	lib "modernc.org/sqlite/lib"
)

// The WAL's layout (https://www.sqlite.org/fileformat2.html#walformat).
const (
	walHeaderSize   = 32
	frameHeaderSize = 24
	frameSize       = frameHeaderSize + PageSize
)

// piece is the part of a read or write that falls in one unit of a
// file's layout (a page, a block, a WAL header or frame part): each is
// opened or sealed on its own.
type piece struct {
	at  int   // where it starts in the caller's buffer
	pos int64 // where it starts in the file
	n   int   // its length
}

// pieces walks the n bytes at off piece by piece; end gives where the unit
// holding pos ends.
func pieces(off int64, n int, end func(pos int64) int64) iter.Seq[piece] {
	return func(yield func(piece) bool) {
		for at := 0; at < n; {
			pos := off + int64(at)
			m := int(min(end(pos), off+int64(n)) - pos)
			if !yield(piece{at, pos, m}) {
				return
			}
			at += m
		}
	}
}

func pageEnd(pos int64) int64 { return (pos/PageSize + 1) * PageSize }

func walEnd(pos int64) int64 {
	_, _, _, end := walSegment(pos)
	return end
}

// readResult is SQLite's answer to a read that was whole, or that ran past
// the end of the file (the caller zeroed what it could not read).
func readResult(short bool) int32 {
	if short {
		return lib.SQLITE_IOERR_SHORT_READ
	}
	return lib.SQLITE_OK
}

// pageAAD binds a sealed page to its page number, so that a page moved to
// another place in the file fails authentication.
func pageAAD(pgno uint32) []byte {
	a := make([]byte, 5)
	a[0] = 1
	binary.BigEndian.PutUint32(a[1:], pgno)
	return a
}

// sealPage seals the plain page (PageSize bytes) into out. salt is non-nil
// for page 1 of the main file, whose first bytes it replaces.
func (f *file) sealPage(out, plain []byte, pgno uint32, salt []byte) error {
	for _, b := range plain[PageSize-Reserve:] {
		if b != 0 {
			// Never expected: SQLite leaves the reserved bytes alone. Were
			// it to write there, what it reads back would differ (and the
			// WAL's checksums with it), so refuse rather than lose data.
			return fmt.Errorf("page %d has data in its reserved bytes", pgno)
		}
	}
	s := 0
	if salt != nil {
		if string(plain[:saltSize]) != headerMagic {
			return fmt.Errorf("page 1 does not start with the SQLite header")
		}
		copy(out, salt)
		s = saltSize
	}
	nonce := out[PageSize-nonceSize:]
	f.nonce(nonce)
	f.aead.Seal(out[s:s], nonce, plain[s:PageSize-Reserve], pageAAD(pgno))
	return nil
}

// openPage opens the sealed page stored (PageSize bytes) into plain, which
// may be stored itself.
func (f *file) openPage(plain, stored []byte, pgno uint32, page1 bool) error {
	s := 0
	if page1 {
		s = saltSize
	}
	if f.aead == nil {
		return errors.New("no key")
	}
	if _, err := f.aead.Open(plain[s:s], stored[PageSize-nonceSize:], stored[s:PageSize-nonceSize], pageAAD(pgno)); err != nil {
		return err
	}
	if page1 {
		copy(plain, headerMagic)
	}
	clear(plain[PageSize-Reserve : PageSize])
	return nil
}

// authFailed records which page of which file failed and answers
// SQLITE_IOERR_DATA (SQLite's code for a page whose check failed).
func (f *file) authFailed(what string) int32 {
	f.vfs.recordFailure(fmt.Errorf("%s of %s failed its authentication check: the file was changed outside wardsync, or the key is not this replica's", what, f.name))
	return lib.SQLITE_IOERR_DATA
}

func (f *file) readMain(tls *libc.TLS, buf uintptr, n int, off int64) int32 {
	return readUnits(tls, buf, n, off, PageSize, PageSize, func(p uintptr, pg int64, _ int) (int, int32) {
		rc := callRead(tls, f.base, p, PageSize, pg*PageSize)
		if rc == lib.SQLITE_IOERR_SHORT_READ {
			size, rc := baseSize(tls, f.base)
			if rc != lib.SQLITE_OK {
				return 0, rc
			}
			if size > pg*PageSize {
				return 0, f.authFailed(fmt.Sprintf("page %d (cut short)", pg+1))
			}
			return 0, lib.SQLITE_OK
		}
		if rc != lib.SQLITE_OK {
			return 0, rc
		}
		pgno := uint32(pg + 1)
		t := cbytes(p, PageSize)
		if err := f.openPage(t, t, pgno, pgno == 1); err != nil {
			return 0, f.authFailed(fmt.Sprintf("page %d", pgno))
		}
		return PageSize, lib.SQLITE_OK
	})
}

// readUnits reads n bytes at off of a file sealed unit by unit, each of
// unit plain bytes (scratch bytes as stored). open opens unit i into p
// (scratch bytes of C memory) and says how many plain bytes it holds; the
// read starts at from in it, and a unit that ends before needs no
// opening. What lies past the file's end reads as zeros, and the read is
// then short.
func readUnits(tls *libc.TLS, buf uintptr, n int, off int64, unit, scratch int, open func(p uintptr, i int64, from int) (have int, rc int32)) int32 {
	out := cbytes(buf, n)
	tmp := tls.Alloc(scratch)
	defer tls.Free(scratch)
	t := cbytes(tmp, scratch)
	short := false
	size := int64(unit)
	for pc := range pieces(off, n, func(pos int64) int64 { return (pos/size + 1) * size }) {
		from := int(pc.pos % size)
		have, rc := open(tmp, pc.pos/size, from)
		if rc != lib.SQLITE_OK {
			return rc
		}
		c := max(min(pc.n, have-from), 0)
		copy(out[pc.at:pc.at+c], t[from:from+c])
		if c < pc.n {
			clear(out[pc.at+c : pc.at+pc.n])
			short = true
		}
	}
	return readResult(short)
}

func (f *file) writeMain(tls *libc.TLS, buf uintptr, n int, off int64) int32 {
	in := cbytes(buf, n)
	for pc := range pieces(off, n, pageEnd) {
		pg := pc.pos / PageSize
		pgno := uint32(pg + 1)
		if rc := f.writePage(tls, in[pc.at:pc.at+pc.n], int(pc.pos%PageSize), pgno, pgno == 1, pg*PageSize, (*file).readMain); rc != lib.SQLITE_OK {
			return rc
		}
	}
	return lib.SQLITE_OK
}

// writePage seals one page of the main file or the WAL and writes it at
// pos: data is what SQLite writes into it, from offset at. Part of a page
// (SQLite writes whole pages; this keeps any other writer correct) is
// patched into the page as read back with read: read, patch, seal again.
// page1 is the main file's first page, which keeps its salt.
func (f *file) writePage(tls *libc.TLS, data []byte, at int, pgno uint32, page1 bool, pos int64, read ioFunc) int32 {
	tmp := tls.Alloc(2 * PageSize)
	defer tls.Free(2 * PageSize)
	plain := data
	if at != 0 || len(data) != PageSize {
		old := tmp + PageSize
		if rc := read(f, tls, old, PageSize, pos); rc != lib.SQLITE_OK && rc != lib.SQLITE_IOERR_SHORT_READ {
			return rc
		}
		plain = cbytes(old, PageSize)
		if page1 && string(plain[:saltSize]) != headerMagic {
			copy(plain, headerMagic)
		}
		copy(plain[at:], data)
	}
	var salt []byte
	if page1 {
		salt = f.salt
	}
	if err := f.sealPage(cbytes(tmp, PageSize), plain, pgno, salt); err != nil {
		f.vfs.recordFailure(fmt.Errorf("cryptvfs: write %s: %w", f.name, err))
		return lib.SQLITE_IOERR_WRITE
	}
	return f.write(tls, tmp, PageSize, pos)
}

// walSegment places a WAL offset: in the WAL header or a frame header
// (plain), or in a frame's page (sealed). end is where that part ends.
func walSegment(pos int64) (page bool, frame, start, end int64) {
	if pos < walHeaderSize {
		return false, -1, 0, walHeaderSize
	}
	frame = (pos - walHeaderSize) / frameSize
	start = walHeaderSize + frame*frameSize
	if pos < start+frameHeaderSize {
		return false, frame, start, start + frameHeaderSize
	}
	return true, frame, start, start + frameSize
}

func (f *file) readWAL(tls *libc.TLS, buf uintptr, n int, off int64) int32 {
	out := cbytes(buf, n)
	tmp := tls.Alloc(frameSize)
	defer tls.Free(frameSize)
	t := cbytes(tmp, frameSize)
	short := false
	for pc := range pieces(off, n, walEnd) {
		done, pos, m := pc.at, pc.pos, pc.n
		page, frame, start, _ := walSegment(pos)
		if !page {
			rc := callRead(tls, f.base, buf+uintptr(done), m, pos)
			if rc == lib.SQLITE_IOERR_SHORT_READ {
				short = true
			} else if rc != lib.SQLITE_OK {
				return rc
			}
			continue
		}
		dataStart := start + frameHeaderSize
		rc := callRead(tls, f.base, tmp, frameSize, start)
		var err error
		switch {
		case rc == lib.SQLITE_IOERR_SHORT_READ:
			size, rc := baseSize(tls, f.base)
			if rc != lib.SQLITE_OK {
				return rc
			}
			if size <= dataStart {
				clear(out[done : done+m])
				short = true
				continue
			}
			err = errors.New("cut short")
		case rc != lib.SQLITE_OK:
			return rc
		default:
			err = f.openPage(t[frameHeaderSize:], t[frameHeaderSize:], binary.BigEndian.Uint32(t), false)
		}
		if err != nil {
			if off > start {
				return f.authFailed(fmt.Sprintf("WAL frame %d", frame+1))
			}
			// A read of the whole frame is SQLite's recovery scanning the
			// log: a frame torn by a crash fails here, and SQLite's own
			// answer to a torn frame is its checksum failing, which ends
			// the log before it. Zeros make the checksum fail the same way.
			f.authFailed(fmt.Sprintf("WAL frame %d (ignored by recovery)", frame+1))
			clear(t[frameHeaderSize:])
		}
		from := int(pos - dataStart)
		copy(out[done:done+m], t[frameHeaderSize+from:frameHeaderSize+from+m])
	}
	return readResult(short)
}

func (f *file) writeWAL(tls *libc.TLS, buf uintptr, n int, off int64) int32 {
	in := cbytes(buf, n)
	for pc := range pieces(off, n, walEnd) {
		data := in[pc.at : pc.at+pc.n]
		page, frame, start, _ := walSegment(pc.pos)
		if !page {
			if rc := f.write(tls, buf+uintptr(pc.at), pc.n, pc.pos); rc != lib.SQLITE_OK {
				return rc
			}
			if frame >= 0 && pc.pos == start && pc.n >= 4 {
				f.walFrame, f.walPgno = frame, binary.BigEndian.Uint32(data)
			}
			continue
		}
		pgno := f.walPgno
		if f.walFrame != frame {
			// A page rewritten in place by a later write of the same
			// transaction: its header is on disk already.
			var rc int32
			if pgno, rc = f.framePgno(tls, start); rc != lib.SQLITE_OK {
				return rc
			}
		}
		dataStart := start + frameHeaderSize
		if rc := f.writePage(tls, data, int(pc.pos-dataStart), pgno, false, dataStart, (*file).readWAL); rc != lib.SQLITE_OK {
			return rc
		}
	}
	return lib.SQLITE_OK
}

// framePgno reads the page number in the header of the WAL frame at start.
func (f *file) framePgno(tls *libc.TLS, start int64) (uint32, int32) {
	p := tls.Alloc(4)
	defer tls.Free(4)
	if rc := callRead(tls, f.base, p, 4, start); rc != lib.SQLITE_OK {
		return 0, rc
	}
	return binary.BigEndian.Uint32(cbytes(p, 4)), lib.SQLITE_OK
}
