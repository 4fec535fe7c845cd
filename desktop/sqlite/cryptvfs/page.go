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
	out := cbytes(buf, n)
	tmp := tls.Alloc(PageSize)
	defer tls.Free(PageSize)
	t := cbytes(tmp, PageSize)
	short := false
	for pc := range pieces(off, n, pageEnd) {
		done, pos, m := pc.at, pc.pos, pc.n
		pg := pos / PageSize
		in := int(pos % PageSize)
		rc := callRead(tls, f.base, tmp, PageSize, pg*PageSize)
		if rc == lib.SQLITE_IOERR_SHORT_READ {
			size, rc := baseSize(tls, f.base)
			if rc != lib.SQLITE_OK {
				return rc
			}
			if size > pg*PageSize {
				return f.authFailed(fmt.Sprintf("page %d (cut short)", pg+1))
			}
			clear(out[done : done+m])
			short = true
			continue
		}
		if rc != lib.SQLITE_OK {
			return rc
		}
		pgno := uint32(pg + 1)
		if in == 0 && m == PageSize {
			if err := f.openPage(out[done:done+PageSize], t, pgno, pgno == 1); err != nil {
				return f.authFailed(fmt.Sprintf("page %d", pgno))
			}
		} else {
			if err := f.openPage(t, t, pgno, pgno == 1); err != nil {
				return f.authFailed(fmt.Sprintf("page %d", pgno))
			}
			copy(out[done:done+m], t[in:in+m])
		}
	}
	return readResult(short)
}

func (f *file) writeMain(tls *libc.TLS, buf uintptr, n int, off int64) int32 {
	in := cbytes(buf, n)
	tmp := tls.Alloc(2 * PageSize)
	defer tls.Free(2 * PageSize)
	t := cbytes(tmp, PageSize)
	for pc := range pieces(off, n, pageEnd) {
		done, pos, m := pc.at, pc.pos, pc.n
		pg := pos / PageSize
		at := int(pos % PageSize)
		pgno := uint32(pg + 1)
		plain := in[done:min(done+PageSize, n)]
		if at != 0 || m != PageSize {
			// Part of a page (SQLite writes whole pages; this keeps any
			// other writer correct): read, patch, seal again.
			old := tmp + PageSize
			if rc := f.readMain(tls, old, PageSize, pg*PageSize); rc != lib.SQLITE_OK && rc != lib.SQLITE_IOERR_SHORT_READ {
				return rc
			}
			plain = cbytes(old, PageSize)
			if pgno == 1 && string(plain[:saltSize]) != headerMagic {
				copy(plain, headerMagic)
			}
			copy(plain[at:], in[done:done+m])
		}
		var salt []byte
		if pgno == 1 {
			salt = f.salt
		}
		if err := f.sealPage(t, plain, pgno, salt); err != nil {
			f.vfs.recordFailure(fmt.Errorf("cryptvfs: write %s: %w", f.name, err))
			return lib.SQLITE_IOERR_WRITE
		}
		if rc := f.write(tls, tmp, PageSize, pg*PageSize); rc != lib.SQLITE_OK {
			return rc
		}
	}
	return lib.SQLITE_OK
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
	tmp := tls.Alloc(2 * PageSize)
	defer tls.Free(2 * PageSize)
	t := cbytes(tmp, PageSize)
	for pc := range pieces(off, n, walEnd) {
		done, pos, m := pc.at, pc.pos, pc.n
		page, frame, start, _ := walSegment(pos)
		if !page {
			if rc := f.write(tls, buf+uintptr(done), m, pos); rc != lib.SQLITE_OK {
				return rc
			}
			if frame >= 0 && pos == start && m >= 4 {
				f.walFrame, f.walPgno = frame, binary.BigEndian.Uint32(in[done:])
			}
			continue
		}
		var pgno uint32
		if f.walFrame == frame {
			pgno = f.walPgno
		} else {
			// A page rewritten in place by a later write of the same
			// transaction: its header is on disk already.
			if rc := callRead(tls, f.base, tmp, 4, start); rc != lib.SQLITE_OK {
				return rc
			}
			pgno = binary.BigEndian.Uint32(t)
		}
		dataStart := start + frameHeaderSize
		plain := in[done:min(done+PageSize, n)]
		if pos != dataStart || m != PageSize {
			old := tmp + PageSize
			if rc := f.readWAL(tls, old, PageSize, dataStart); rc != lib.SQLITE_OK && rc != lib.SQLITE_IOERR_SHORT_READ {
				return rc
			}
			plain = cbytes(old, PageSize)
			copy(plain[pos-dataStart:], in[done:done+m])
		}
		if err := f.sealPage(t, plain, pgno, nil); err != nil {
			f.vfs.recordFailure(fmt.Errorf("cryptvfs: write %s: %w", f.name, err))
			return lib.SQLITE_IOERR_WRITE
		}
		if rc := f.write(tls, tmp, PageSize, dataStart); rc != lib.SQLITE_OK {
			return rc
		}
	}
	return lib.SQLITE_OK
}
