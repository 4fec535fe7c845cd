package cryptvfs

import (
	"encoding/binary"
	"fmt"

	"modernc.org/libc"
	lib "modernc.org/sqlite/lib"
)

// Journals and temp files are written at any offset and length, so they are
// stored as blocks of blockSize plain bytes, each sealed on its own into
// ciphertext + tag + nonce (the last block may be shorter). Their size as
// SQLite sees it is the plain size.
const (
	blockSize   = 4096
	blockStored = blockSize + Reserve
)

func blockAAD(i int64) []byte {
	a := make([]byte, 9)
	a[0] = 2
	binary.BigEndian.PutUint64(a[1:], uint64(i))
	return a
}

// logicalSize is the plain size of a block file of stored size s. A last
// block too short to hold even its tag (a write cut by a crash) is ignored.
func logicalSize(s int64) int64 {
	full, rem := s/blockStored, s%blockStored
	if rem > Reserve {
		return full*blockSize + rem - Reserve
	}
	return full * blockSize
}

// blocksSize is the plain size of this block file, from its stored size
// (see logicalSize).
func (f *file) blocksSize(tls *libc.TLS) (int64, int32) {
	stored, rc := baseSize(tls, f.base)
	if rc != lib.SQLITE_OK {
		return 0, rc
	}
	return logicalSize(stored), lib.SQLITE_OK
}

// readBlock opens block i, of plain length n, into p (C memory, at least
// blockStored bytes), which then holds its n plain bytes.
func (f *file) readBlock(tls *libc.TLS, p uintptr, i int64, n int) int32 {
	if rc := callRead(tls, f.base, p, n+Reserve, i*blockStored); rc != lib.SQLITE_OK {
		if rc == lib.SQLITE_IOERR_SHORT_READ {
			return f.authFailed(fmt.Sprintf("block %d (cut short)", i))
		}
		return rc
	}
	t := cbytes(p, n+Reserve)
	if _, err := f.aead.Open(t[:0], t[n+tagSize:], t[:n+tagSize], blockAAD(i)); err != nil {
		return f.authFailed(fmt.Sprintf("block %d", i))
	}
	return lib.SQLITE_OK
}

func (f *file) readBlocks(tls *libc.TLS, buf uintptr, n int, off int64) int32 {
	size, rc := f.blocksSize(tls)
	if rc != lib.SQLITE_OK {
		return rc
	}
	return readUnits(tls, buf, n, off, blockSize, blockStored, func(p uintptr, i int64, from int) (int, int32) {
		have := int(min(size-i*blockSize, blockSize)) // plain bytes in block i
		if have <= from {
			return have, lib.SQLITE_OK
		}
		return have, f.readBlock(tls, p, i, have)
	})
}

func (f *file) writeBlocks(tls *libc.TLS, buf uintptr, n int, off int64) int32 {
	size, rc := f.blocksSize(tls)
	if rc != lib.SQLITE_OK {
		return rc
	}
	in := cbytes(buf, n)
	end := off + int64(n)
	p := tls.Alloc(2 * blockStored)
	defer tls.Free(2 * blockStored)
	plain := cbytes(p, blockStored)
	// A write past the end also rewrites the blocks between the old end
	// and it (as zeros), as a plain file would read back.
	first := off / blockSize
	if size < off {
		first = size / blockSize
	}
	for i := first; i*blockSize < end; i++ {
		bs := i * blockSize
		oldLen := int(max(min(size-bs, blockSize), 0))
		newLen := max(oldLen, int(min(end-bs, blockSize)))
		if oldLen > 0 && !(off <= bs && end >= bs+int64(oldLen)) {
			if rc := f.readBlock(tls, p, i, oldLen); rc != lib.SQLITE_OK {
				return rc
			}
		}
		clear(plain[oldLen:newLen])
		// The part of the write that falls in this block.
		from, to := max(off, bs), min(end, bs+blockSize)
		if from < to {
			copy(plain[from-bs:to-bs], in[from-off:to-off])
		}
		if rc := f.sealBlock(tls, p, i, newLen); rc != lib.SQLITE_OK {
			return rc
		}
	}
	return lib.SQLITE_OK
}

// sealBlock seals block i, whose n plain bytes p holds (C memory of two
// blocks: the sealed one is built in the second), and writes it.
func (f *file) sealBlock(tls *libc.TLS, p uintptr, i int64, n int) int32 {
	plain, out := cbytes(p, blockStored), cbytes(p+blockStored, blockStored)
	nonce := out[n+tagSize : n+Reserve]
	f.nonce(nonce)
	f.aead.Seal(out[:0], nonce, plain[:n], blockAAD(i))
	return f.write(tls, p+blockStored, n+Reserve, i*blockStored)
}

func (f *file) truncateBlocks(tls *libc.TLS, size int64) int32 {
	plainSize, rc := f.blocksSize(tls)
	if rc != lib.SQLITE_OK {
		return rc
	}
	if size >= plainSize {
		return lib.SQLITE_OK
	}
	i, rem := size/blockSize, int(size%blockSize)
	if rem == 0 {
		return callTruncate(tls, f.base, i*blockStored)
	}
	// The new last block is sealed again at its new length.
	have := int(min(plainSize-i*blockSize, blockSize))
	p := tls.Alloc(2 * blockStored)
	defer tls.Free(2 * blockStored)
	if rc := f.readBlock(tls, p, i, have); rc != lib.SQLITE_OK {
		return rc
	}
	if rc := f.sealBlock(tls, p, i, rem); rc != lib.SQLITE_OK {
		return rc
	}
	return callTruncate(tls, f.base, i*blockStored+int64(rem)+Reserve)
}
