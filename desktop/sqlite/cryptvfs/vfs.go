// Package cryptvfs is an encrypting SQLite VFS for modernc.org/sqlite: a shim
// over the operating system's VFS that encrypts every byte SQLite writes for a
// database opened through it (main file, -wal, rollback journals, statement
// journals and temp files) and authenticates every byte it reads back.
//
// A database opened through a VFS from [Register] ("file:ward.db?vfs=" +
// v.Name()) is laid out so:
//
//   - Main file: pages of [PageSize] bytes whose last [Reserve] bytes SQLite
//     leaves to us (the database header's reserved-space byte is set when the
//     VFS creates the file). Each page's payload is sealed with AES-256-GCM
//     under a fresh random nonce; the tag and nonce fill the reserved bytes,
//     and the page number is authenticated with it, so pages cannot be moved.
//     Page 1's first 16 bytes ("SQLite format 3\0", known to everyone) hold the
//     database's random salt instead; the page key is HKDF(data key, salt).
//   - -wal: the 32-byte WAL header and each frame's 24-byte header stay plain
//     (page numbers, salts, checksums: SQLite's crash recovery reads them);
//     each frame's page is sealed exactly as in the main file. Sealing is not
//     a keystream over file offsets: the WAL rewrites the same offsets, and a
//     fresh nonce per write keeps that safe.
//   - Journals and temp files (arbitrary offsets and sizes): 4 KiB blocks, each
//     stored as ciphertext + tag + nonce. Journals use the database's key;
//     temp files (deleted on close, never reopened) a random key of their own.
//   - -shm is SQLite's shared-memory index and stays plain: it holds page
//     numbers, frame numbers and checksums, no row content.
//
// Mmap is off (io methods version 2: SQLite would read pages straight from a
// mapping and bypass decryption).
//
// SQLite calls the VFS through C function pointers: the tables hold top-level
// Go functions, and the only link from a C object back to Go state is a
// handle in a process-wide registry (SQLite's own VFS list is process-wide).
package cryptvfs

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

	"modernc.org/libc"
	lib "modernc.org/sqlite/lib"
)

const (
	// KeySize is the data key's length: AES-256.
	KeySize = 32
	// PageSize is the page size of every database this VFS creates.
	PageSize = 4096
	// Reserve is the per-page space SQLite leaves for the tag and nonce.
	Reserve   = tagSize + nonceSize
	tagSize   = 16
	nonceSize = 12
	saltSize  = 16
	// headerMagic is what page 1 starts with in plain SQLite; on disk the
	// salt takes its place.
	headerMagic = "SQLite format 3\x00"
)

// ErrInUse is returned, wrapped, by [VFS.Close] while a file opened through
// the VFS is still open.
var ErrInUse = errors.New("cryptvfs: files still open")

// VFS is one registered encrypting VFS, bound to one data key.
type VFS struct {
	name   string
	handle uintptr
	tls    *libc.TLS
	cname  uintptr // C string of name
	cvfs   uintptr // our sqlite3_vfs (C memory)
	cio    uintptr // our sqlite3_io_methods (C memory)
	base   uintptr // the OS VFS
	key    []byte
	open   atomic.Int32

	fail atomic.Pointer[error] // the last authentication failure, for the error the caller shows

	closeMu sync.Mutex
	closed  bool

	// observe, when set (tests, before any open), sees every buffer this
	// VFS hands to the OS VFS to write.
	observe func(name string, b []byte)
}

// fileHeader is the start of our sqlite3_file; the OS VFS's file follows.
type fileHeader struct {
	methods uintptr // sqlite3_file.pMethods
	handle  uintptr // registry handle of the *file
}

const headerSize = unsafe.Sizeof(fileHeader{})

// Register registers a new VFS under a fresh name for databases sealed with
// key (KeySize random bytes). The key is copied; Close wipes the copy.
func Register(key []byte) (*VFS, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("cryptvfs: the data key is %d bytes, want %d", len(key), KeySize)
	}
	v := &VFS{key: append([]byte(nil), key...), tls: libc.NewTLS()}
	v.handle = registry.add(v)
	v.name = fmt.Sprintf("wardcrypt%d", v.handle)
	fail := func(err error) (*VFS, error) {
		v.free()
		return nil, err
	}
	var err error
	if v.cname, err = libc.CString(v.name); err != nil {
		return fail(err)
	}
	v.base = lib.Xsqlite3_vfs_find(v.tls, 0)
	if v.base == 0 {
		return fail(errors.New("cryptvfs: SQLite has no default VFS"))
	}
	base := (*lib.Tsqlite3_vfs)(cptr(v.base))
	v.cvfs = libc.Xcalloc(v.tls, 1, uint64(unsafe.Sizeof(lib.Tsqlite3_vfs{})))
	v.cio = libc.Xcalloc(v.tls, 1, uint64(unsafe.Sizeof(lib.Tsqlite3_io_methods{})))
	if v.cvfs == 0 || v.cio == 0 {
		return fail(errors.New("cryptvfs: out of memory"))
	}
	// Everything but xOpen is the OS VFS's own (path names, randomness,
	// time, dlopen: none of them reads pAppData); the version stays the OS
	// VFS's so that SQLite finds xCurrentTimeInt64 and the syscall hooks.
	cv := (*lib.Tsqlite3_vfs)(cptr(v.cvfs))
	*cv = *base
	cv.FpNext = 0
	cv.FzName = v.cname
	cv.FpAppData = v.handle
	cv.FszOsFile = int32(headerSize) + base.FszOsFile
	*(*func(*libc.TLS, uintptr, uintptr, uintptr, int32, uintptr) int32)(unsafe.Pointer(&cv.FxOpen)) = xOpen

	m := (*lib.Tsqlite3_io_methods)(cptr(v.cio))
	// Version 2: the shared-memory methods (WAL) but no xFetch/xUnfetch, so
	// SQLite never maps the file and reads every page through xRead.
	m.FiVersion = 2
	*(*func(*libc.TLS, uintptr) int32)(unsafe.Pointer(&m.FxClose)) = xClose
	*(*func(*libc.TLS, uintptr, uintptr, int32, int64) int32)(unsafe.Pointer(&m.FxRead)) = xRead
	*(*func(*libc.TLS, uintptr, uintptr, int32, int64) int32)(unsafe.Pointer(&m.FxWrite)) = xWrite
	*(*func(*libc.TLS, uintptr, int64) int32)(unsafe.Pointer(&m.FxTruncate)) = xTruncate
	*(*func(*libc.TLS, uintptr, int32) int32)(unsafe.Pointer(&m.FxSync)) = xSync
	*(*func(*libc.TLS, uintptr, uintptr) int32)(unsafe.Pointer(&m.FxFileSize)) = xFileSize
	*(*func(*libc.TLS, uintptr, int32) int32)(unsafe.Pointer(&m.FxLock)) = xLock
	*(*func(*libc.TLS, uintptr, int32) int32)(unsafe.Pointer(&m.FxUnlock)) = xUnlock
	*(*func(*libc.TLS, uintptr, uintptr) int32)(unsafe.Pointer(&m.FxCheckReservedLock)) = xCheckReservedLock
	*(*func(*libc.TLS, uintptr, int32, uintptr) int32)(unsafe.Pointer(&m.FxFileControl)) = xFileControl
	*(*func(*libc.TLS, uintptr) int32)(unsafe.Pointer(&m.FxSectorSize)) = xSectorSize
	*(*func(*libc.TLS, uintptr) int32)(unsafe.Pointer(&m.FxDeviceCharacteristics)) = xDeviceCharacteristics
	*(*func(*libc.TLS, uintptr, int32, int32, int32, uintptr) int32)(unsafe.Pointer(&m.FxShmMap)) = xShmMap
	*(*func(*libc.TLS, uintptr, int32, int32, int32) int32)(unsafe.Pointer(&m.FxShmLock)) = xShmLock
	*(*func(*libc.TLS, uintptr))(unsafe.Pointer(&m.FxShmBarrier)) = xShmBarrier
	*(*func(*libc.TLS, uintptr, int32) int32)(unsafe.Pointer(&m.FxShmUnmap)) = xShmUnmap

	if rc := lib.Xsqlite3_vfs_register(v.tls, v.cvfs, 0); rc != lib.SQLITE_OK {
		return fail(fmt.Errorf("cryptvfs: registering VFS %s: SQLite code %d", v.name, rc))
	}
	return v, nil
}

// Name is the VFS's name, for the "vfs" parameter of a database URI.
func (v *VFS) Name() string { return v.name }

// Failure is the last authentication failure seen through this VFS (which
// file, which page), or nil. SQLite reports it only as SQLITE_IOERR_DATA.
func (v *VFS) Failure() error {
	if err := v.fail.Load(); err != nil {
		return *err
	}
	return nil
}

func (v *VFS) recordFailure(err error) {
	v.fail.Store(&err)
}

// Close unregisters the VFS and wipes its copy of the key. Every database
// opened through it must be closed first: while a file is open, Close does
// nothing and returns an error wrapping [ErrInUse].
func (v *VFS) Close() error {
	v.closeMu.Lock()
	defer v.closeMu.Unlock()
	if v.closed {
		return nil
	}
	if n := v.open.Load(); n != 0 {
		return fmt.Errorf("%w: %d file(s) of VFS %s", ErrInUse, n, v.name)
	}
	v.closed = true
	rc := lib.Xsqlite3_vfs_unregister(v.tls, v.cvfs)
	v.free()
	if rc != lib.SQLITE_OK {
		return fmt.Errorf("cryptvfs: unregistering VFS %s: SQLite code %d", v.name, rc)
	}
	return nil
}

func (v *VFS) free() {
	clear(v.key)
	if v.cname != 0 {
		libc.Xfree(v.tls, v.cname)
	}
	if v.cvfs != 0 {
		libc.Xfree(v.tls, v.cvfs)
	}
	if v.cio != 0 {
		libc.Xfree(v.tls, v.cio)
	}
	v.cname, v.cvfs, v.cio = 0, 0, 0
	registry.remove(v.handle)
	v.tls.Close()
}

// derive is the AEAD under HKDF(data key, salt, purpose).
func (v *VFS) derive(salt []byte, purpose string) (cipher.AEAD, error) {
	k, err := hkdf.Key(sha256.New, v.key, salt, purpose, KeySize)
	if err != nil {
		return nil, err
	}
	return newGCM(k)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// The registry maps the handles stored in C memory (pAppData, our file
// header) to Go objects: C memory must not hold Go pointers.
type handles struct {
	mu   sync.RWMutex
	next uintptr
	objs map[uintptr]any
}

var registry = &handles{objs: map[uintptr]any{}}

func (h *handles) add(o any) uintptr {
	h.mu.Lock()
	defer h.mu.Unlock()
	for {
		h.next++
		if _, busy := h.objs[h.next]; h.next != 0 && !busy {
			h.objs[h.next] = o
			return h.next
		}
	}
}

func (h *handles) get(k uintptr) any {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.objs[k]
}

func (h *handles) remove(k uintptr) {
	h.mu.Lock()
	delete(h.objs, k)
	h.mu.Unlock()
}

// file kinds
const (
	kindMain  = iota // page-sealed main database
	kindWAL          // plain headers, page-sealed frames
	kindBlock        // journals and temp files
)

// ioFunc reads or writes n bytes at off of a file, from or into buf.
type ioFunc func(f *file, tls *libc.TLS, buf uintptr, n int, off int64) int32

// layouts are how each kind of file reads and writes its sealed form.
var layouts = [...]struct{ read, write ioFunc }{
	kindMain:  {(*file).readMain, (*file).writeMain},
	kindWAL:   {(*file).readWAL, (*file).writeWAL},
	kindBlock: {(*file).readBlocks, (*file).writeBlocks},
}

// file is the Go side of one open file.
type file struct {
	vfs  *VFS
	kind int
	base uintptr // the OS VFS's sqlite3_file, right after our header
	name string
	aead cipher.AEAD
	salt []byte // main: the salt stored in page 1

	// random holds random bytes not yet used as nonces: read 4 KiB at a
	// time, not 12 bytes a page (one system call per page written was a
	// measurable part of an initial sync). SQLite calls a file from one
	// connection at a time.
	random []byte

	// WAL: the page number of the frame whose header was written last, so
	// that sealing its page needs no read (SQLite writes a frame's header,
	// then its page).
	walFrame int64
	walPgno  uint32
}

// nonce fills b with fresh random bytes.
func (f *file) nonce(b []byte) {
	if len(f.random) < len(b) {
		f.random = make([]byte, 4096)
		rand.Read(f.random)
	}
	copy(b, f.random)
	clear(f.random[:len(b)])
	f.random = f.random[len(b):]
}

func fileOf(pFile uintptr) *file {
	h := (*fileHeader)(cptr(pFile)).handle
	f, _ := registry.get(h).(*file)
	if f == nil {
		panic(fmt.Sprintf("cryptvfs: unknown file handle %#x", h))
	}
	return f
}

// catch turns a panic in a callback into an SQLite error code: a panic must
// not unwind through SQLite's C frames.
func catch(rc *int32, code int32) {
	if r := recover(); r != nil {
		*rc = code
	}
}

func xOpen(tls *libc.TLS, pVfs, zName, pFile uintptr, flags int32, pOutFlags uintptr) (rc int32) {
	defer catch(&rc, lib.SQLITE_CANTOPEN)
	v, _ := registry.get((*lib.Tsqlite3_vfs)(cptr(pVfs)).FpAppData).(*VFS)
	if v == nil {
		return lib.SQLITE_CANTOPEN
	}
	*(*fileHeader)(cptr(pFile)) = fileHeader{}
	base := pFile + headerSize
	// The OS VFS gets its own pVfs (its pAppData picks the locking style)
	// and zName untouched: NULL for temp files, URI parameters after it.
	baseVfs := (*lib.Tsqlite3_vfs)(cptr(v.base))
	rc = (*(*func(*libc.TLS, uintptr, uintptr, uintptr, int32, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{baseVfs.FxOpen})))(tls, v.base, zName, base, flags, pOutFlags)
	if rc != lib.SQLITE_OK {
		if (*lib.Tsqlite3_file)(cptr(base)).FpMethods != 0 {
			callClose(tls, base)
		}
		return rc
	}
	f := &file{vfs: v, base: base, walFrame: -1}
	if zName != 0 {
		f.name = libc.GoString(zName)
	}
	var err error
	switch {
	case flags&lib.SQLITE_OPEN_MAIN_DB != 0:
		f.kind = kindMain
		rc, err = f.openMain(tls, flags)
	case flags&lib.SQLITE_OPEN_WAL != 0:
		f.kind = kindWAL
		f.aead, err = mainAEAD(tls, zName)
	case flags&lib.SQLITE_OPEN_MAIN_JOURNAL != 0:
		f.kind = kindBlock
		f.aead, err = mainAEAD(tls, zName)
	case flags&lib.SQLITE_OPEN_SUPER_JOURNAL != 0:
		f.kind = kindBlock
		f.aead, err = v.derive(nil, "wardsync super-journal v1")
	default:
		// Temp databases, statement journals, sorter files: deleted on
		// close and never read by another process, so a key of their own.
		f.kind = kindBlock
		k := make([]byte, KeySize)
		rand.Read(k)
		f.aead, err = newGCM(k)
	}
	if err == nil && rc != lib.SQLITE_OK {
		err = fmt.Errorf("SQLite code %d", rc)
	}
	if err != nil {
		callClose(tls, base)
		(*lib.Tsqlite3_file)(cptr(base)).FpMethods = 0
		v.recordFailure(fmt.Errorf("cryptvfs: open %s: %w", f.name, err))
		if rc != lib.SQLITE_OK {
			return rc
		}
		return lib.SQLITE_CANTOPEN
	}
	v.open.Add(1)
	(*fileHeader)(cptr(pFile)).handle = registry.add(f)
	(*fileHeader)(cptr(pFile)).methods = v.cio
	return lib.SQLITE_OK
}

// mainAEAD is the page AEAD of the main database whose WAL or journal is
// named zName (SQLite opens the main file first).
func mainAEAD(tls *libc.TLS, zName uintptr) (cipher.AEAD, error) {
	if zName == 0 {
		return nil, errors.New("no file name for a WAL or journal")
	}
	main := lib.Xsqlite3_database_file_object(tls, zName)
	if main == 0 || (*fileHeader)(cptr(main)).handle == 0 {
		return nil, errors.New("its main database is not open through this VFS")
	}
	mf, _ := registry.get((*fileHeader)(cptr(main)).handle).(*file)
	if mf == nil || mf.aead == nil {
		return nil, errors.New("its main database has no key yet")
	}
	return mf.aead, nil
}

// openMain reads the salt from page 1, creating page 1 first when the file
// is new: an empty database with our page size and reserved bytes (SQLite
// only lets a page's reserved bytes be chosen when the database is created).
func (f *file) openMain(tls *libc.TLS, flags int32) (int32, error) {
	size, rc := baseSize(tls, f.base)
	if rc != lib.SQLITE_OK {
		return rc, nil
	}
	if size == 0 && flags&lib.SQLITE_OPEN_READWRITE != 0 {
		// Two processes may create the same file at once: the first to
		// hold the exclusive lock writes page 1, the other then reads it.
		if rc := callLock(tls, f.base, lib.SQLITE_LOCK_SHARED); rc != lib.SQLITE_OK {
			return rc, nil
		}
		rc := callLock(tls, f.base, lib.SQLITE_LOCK_EXCLUSIVE)
		if rc == lib.SQLITE_OK {
			if size, rc = baseSize(tls, f.base); rc == lib.SQLITE_OK && size == 0 {
				rc = f.createPage1(tls)
			}
		}
		callUnlock(tls, f.base, lib.SQLITE_LOCK_NONE)
		if rc != lib.SQLITE_OK {
			return rc, nil
		}
	} else if size == 0 {
		return lib.SQLITE_OK, nil // read-only and empty: SQLite sees an empty database
	}
	if size, rc = baseSize(tls, f.base); rc != lib.SQLITE_OK {
		return rc, nil
	}
	if size < PageSize {
		return lib.SQLITE_NOTADB, fmt.Errorf("the file is %d bytes, shorter than one %d-byte page", size, PageSize)
	}
	buf := tls.Alloc(saltSize)
	defer tls.Free(saltSize)
	if rc := callRead(tls, f.base, buf, saltSize, 0); rc != lib.SQLITE_OK {
		return rc, nil
	}
	f.salt = append([]byte(nil), cbytes(buf, saltSize)...)
	var err error
	f.aead, err = f.vfs.derive(f.salt, "wardsync replica pages v1")
	return lib.SQLITE_OK, err
}

func (f *file) createPage1(tls *libc.TLS) int32 {
	f.salt = make([]byte, saltSize)
	rand.Read(f.salt)
	var err error
	if f.aead, err = f.vfs.derive(f.salt, "wardsync replica pages v1"); err != nil {
		return lib.SQLITE_IOERR_WRITE
	}
	p := emptyPage1()
	out := tls.Alloc(PageSize)
	defer tls.Free(PageSize)
	if err := f.sealPage(cbytes(out, PageSize), p, 1, f.salt); err != nil {
		return lib.SQLITE_IOERR_WRITE
	}
	return f.write(tls, out, PageSize, 0)
}

// emptyPage1 is page 1 of an empty database (file format:
// https://www.sqlite.org/fileformat2.html#database_header) with Reserve
// bytes reserved on every page.
func emptyPage1() []byte {
	p := make([]byte, PageSize)
	copy(p, headerMagic)
	be16(p[16:], PageSize)
	p[18], p[19] = 1, 1 // legacy journal; journal_mode=WAL switches it to 2
	p[20] = Reserve
	p[21], p[22], p[23] = 64, 32, 32
	be32(p[24:], 1) // file change counter
	be32(p[28:], 1) // database size in pages
	be32(p[44:], 4) // schema format
	be32(p[56:], 1) // UTF-8
	be32(p[92:], 1) // version-valid-for = change counter
	be32(p[96:], lib.SQLITE_VERSION_NUMBER)
	p[100] = 0x0d                   // sqlite_schema: an empty leaf table page
	be16(p[105:], PageSize-Reserve) // cell content starts at the usable end
	return p
}

func be16(b []byte, v uint16) { b[0], b[1] = byte(v>>8), byte(v) }
func be32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}

// cbytes views n bytes of C memory at p.
func cbytes(p uintptr, n int) []byte {
	return unsafe.Slice((*byte)(cptr(p)), n)
}

func xClose(tls *libc.TLS, pFile uintptr) (rc int32) {
	defer catch(&rc, lib.SQLITE_IOERR_CLOSE)
	h := (*fileHeader)(cptr(pFile)).handle
	f := fileOf(pFile)
	rc = callClose(tls, f.base)
	registry.remove(h)
	f.vfs.open.Add(-1)
	return rc
}

func xRead(tls *libc.TLS, pFile, buf uintptr, n int32, off int64) (rc int32) {
	defer catch(&rc, lib.SQLITE_IOERR_READ)
	f := fileOf(pFile)
	return layouts[f.kind].read(f, tls, buf, int(n), off)
}

func xWrite(tls *libc.TLS, pFile, buf uintptr, n int32, off int64) (rc int32) {
	defer catch(&rc, lib.SQLITE_IOERR_WRITE)
	f := fileOf(pFile)
	return layouts[f.kind].write(f, tls, buf, int(n), off)
}

func xTruncate(tls *libc.TLS, pFile uintptr, size int64) (rc int32) {
	defer catch(&rc, lib.SQLITE_IOERR_TRUNCATE)
	f := fileOf(pFile)
	if f.kind == kindBlock {
		return f.truncateBlocks(tls, size)
	}
	return callTruncate(tls, f.base, size)
}

func xFileSize(tls *libc.TLS, pFile, pSize uintptr) (rc int32) {
	defer catch(&rc, lib.SQLITE_IOERR_FSTAT)
	f := fileOf(pFile)
	size, rc := baseSize(tls, f.base)
	if rc != lib.SQLITE_OK {
		return rc
	}
	if f.kind == kindBlock {
		size = logicalSize(size)
	}
	*(*int64)(cptr(pSize)) = size
	return lib.SQLITE_OK
}

func xDeviceCharacteristics(tls *libc.TLS, pFile uintptr) (rc int32) {
	defer catch(&rc, 0)
	f := fileOf(pFile)
	c := methodsOf(f.base).FxDeviceCharacteristics
	rc = (*(*func(*libc.TLS, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{c})))(tls, f.base)
	if f.kind == kindBlock {
		// A small write to a block file rewrites its whole 4 KiB block,
		// so a power cut may damage the bytes around it.
		rc &^= lib.SQLITE_IOCAP_POWERSAFE_OVERWRITE
	}
	return rc
}

// The rest pass straight to the OS VFS's file.

func xSync(tls *libc.TLS, pFile uintptr, flags int32) (rc int32) {
	defer catch(&rc, lib.SQLITE_IOERR_FSYNC)
	base := fileOf(pFile).base
	return (*(*func(*libc.TLS, uintptr, int32) int32)(unsafe.Pointer(&struct{ uintptr }{methodsOf(base).FxSync})))(tls, base, flags)
}

func xLock(tls *libc.TLS, pFile uintptr, lock int32) (rc int32) {
	defer catch(&rc, lib.SQLITE_IOERR_LOCK)
	return callLock(tls, fileOf(pFile).base, lock)
}

func xUnlock(tls *libc.TLS, pFile uintptr, lock int32) (rc int32) {
	defer catch(&rc, lib.SQLITE_IOERR_UNLOCK)
	return callUnlock(tls, fileOf(pFile).base, lock)
}

func xCheckReservedLock(tls *libc.TLS, pFile, pOut uintptr) (rc int32) {
	defer catch(&rc, lib.SQLITE_IOERR_CHECKRESERVEDLOCK)
	base := fileOf(pFile).base
	return (*(*func(*libc.TLS, uintptr, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{methodsOf(base).FxCheckReservedLock})))(tls, base, pOut)
}

func xFileControl(tls *libc.TLS, pFile uintptr, op int32, arg uintptr) (rc int32) {
	defer catch(&rc, lib.SQLITE_ERROR)
	base := fileOf(pFile).base
	return (*(*func(*libc.TLS, uintptr, int32, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{methodsOf(base).FxFileControl})))(tls, base, op, arg)
}

func xSectorSize(tls *libc.TLS, pFile uintptr) (rc int32) {
	defer catch(&rc, 4096)
	base := fileOf(pFile).base
	return (*(*func(*libc.TLS, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{methodsOf(base).FxSectorSize})))(tls, base)
}

func xShmMap(tls *libc.TLS, pFile uintptr, pg, pgsz, extend int32, pp uintptr) (rc int32) {
	defer catch(&rc, lib.SQLITE_IOERR_SHMMAP)
	base := fileOf(pFile).base
	return (*(*func(*libc.TLS, uintptr, int32, int32, int32, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{methodsOf(base).FxShmMap})))(tls, base, pg, pgsz, extend, pp)
}

func xShmLock(tls *libc.TLS, pFile uintptr, offset, n, flags int32) (rc int32) {
	defer catch(&rc, lib.SQLITE_IOERR_SHMLOCK)
	base := fileOf(pFile).base
	return (*(*func(*libc.TLS, uintptr, int32, int32, int32) int32)(unsafe.Pointer(&struct{ uintptr }{methodsOf(base).FxShmLock})))(tls, base, offset, n, flags)
}

func xShmBarrier(tls *libc.TLS, pFile uintptr) {
	defer func() { recover() }()
	base := fileOf(pFile).base
	(*(*func(*libc.TLS, uintptr))(unsafe.Pointer(&struct{ uintptr }{methodsOf(base).FxShmBarrier})))(tls, base)
}

func xShmUnmap(tls *libc.TLS, pFile uintptr, del int32) (rc int32) {
	defer catch(&rc, lib.SQLITE_IOERR_SHMMAP)
	base := fileOf(pFile).base
	return (*(*func(*libc.TLS, uintptr, int32) int32)(unsafe.Pointer(&struct{ uintptr }{methodsOf(base).FxShmUnmap})))(tls, base, del)
}

// Calls into the OS VFS's file.

func methodsOf(base uintptr) *lib.Tsqlite3_io_methods {
	return (*lib.Tsqlite3_io_methods)(cptr((*lib.Tsqlite3_file)(cptr(base)).FpMethods))
}

func callClose(tls *libc.TLS, base uintptr) int32 {
	return (*(*func(*libc.TLS, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{methodsOf(base).FxClose})))(tls, base)
}

func callRead(tls *libc.TLS, base, buf uintptr, n int, off int64) int32 {
	return (*(*func(*libc.TLS, uintptr, uintptr, int32, int64) int32)(unsafe.Pointer(&struct{ uintptr }{methodsOf(base).FxRead})))(tls, base, buf, int32(n), off)
}

func (f *file) write(tls *libc.TLS, p uintptr, n int, off int64) int32 {
	if f.vfs.observe != nil {
		f.vfs.observe(f.name, cbytes(p, n))
	}
	return callWrite(tls, f.base, p, n, off)
}

func callWrite(tls *libc.TLS, base, buf uintptr, n int, off int64) int32 {
	return (*(*func(*libc.TLS, uintptr, uintptr, int32, int64) int32)(unsafe.Pointer(&struct{ uintptr }{methodsOf(base).FxWrite})))(tls, base, buf, int32(n), off)
}

func callTruncate(tls *libc.TLS, base uintptr, size int64) int32 {
	return (*(*func(*libc.TLS, uintptr, int64) int32)(unsafe.Pointer(&struct{ uintptr }{methodsOf(base).FxTruncate})))(tls, base, size)
}

func callLock(tls *libc.TLS, base uintptr, lock int32) int32 {
	return (*(*func(*libc.TLS, uintptr, int32) int32)(unsafe.Pointer(&struct{ uintptr }{methodsOf(base).FxLock})))(tls, base, lock)
}

func callUnlock(tls *libc.TLS, base uintptr, lock int32) int32 {
	return (*(*func(*libc.TLS, uintptr, int32) int32)(unsafe.Pointer(&struct{ uintptr }{methodsOf(base).FxUnlock})))(tls, base, lock)
}

func baseSize(tls *libc.TLS, base uintptr) (int64, int32) {
	p := tls.Alloc(8)
	defer tls.Free(8)
	rc := (*(*func(*libc.TLS, uintptr, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{methodsOf(base).FxFileSize})))(tls, base, p)
	return *(*int64)(cptr(p)), rc
}

// cptr is the C address p as a pointer. C memory (libc's allocator, SQLite's
// buffers) is not the Go heap, so the garbage collector neither moves nor
// frees it; going through a variable's address keeps vet's check for
// uintptr-to-pointer conversions of Go memory quiet.
func cptr(p uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&p)) }
