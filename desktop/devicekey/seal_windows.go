//go:build windows

package devicekey

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"
)

// seal seals the seed with DPAPI for the Windows account running the app;
// where DPAPI fails (wine without its crypt32 service), the seed is kept
// as it is and the file's permissions protect it.
func seal(seed []byte) ([]byte, string, error) {
	in := windows.DataBlob{Size: uint32(len(seed)), Data: &seed[0]}
	var out windows.DataBlob
	name, _ := windows.UTF16PtrFromString("wardsync device key")
	if err := windows.CryptProtectData(&in, name, nil, 0, nil, windows.CRYPTPROTECT_UI_FORBIDDEN, &out); err != nil {
		return append([]byte(nil), seed...), "file", nil
	}
	defer windows.LocalFree(windows.Handle(unsafe.Pointer(out.Data)))
	return append([]byte(nil), unsafe.Slice(out.Data, out.Size)...), "dpapi", nil
}

func unseal(b []byte, protection string) ([]byte, error) {
	switch protection {
	case "file":
		return unsealFile(b)
	case "dpapi":
		if len(b) == 0 {
			return nil, fmt.Errorf("empty DPAPI blob")
		}
		in := windows.DataBlob{Size: uint32(len(b)), Data: &b[0]}
		var out windows.DataBlob
		if err := windows.CryptUnprotectData(&in, nil, nil, 0, nil, windows.CRYPTPROTECT_UI_FORBIDDEN, &out); err != nil {
			return nil, fmt.Errorf("DPAPI cannot open the device key (another Windows account or PC?): %w", err)
		}
		defer windows.LocalFree(windows.Handle(unsafe.Pointer(out.Data)))
		return append([]byte(nil), unsafe.Slice(out.Data, out.Size)...), nil
	}
	return nil, fmt.Errorf("unknown protection %q", protection)
}
