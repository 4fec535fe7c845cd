/*
 * A stand-in for Windows' bcryptprimitives.dll, for Wine 8 (Debian 12), which
 * lacks it. Go's runtime (1.22 and later) loads it at start for ProcessPrng,
 * its source of random bytes, and stops when it is missing ("fatal error:
 * bcryptprimitives.dll not found"). Windows 10 and 11 have the real one; this
 * file exists only so that e2e/dist can run the Windows build under Wine. It
 * fills the buffer from RtlGenRandom (advapi32), which Wine implements.
 *
 * Built by the test: x86_64-w64-mingw32-gcc -shared -o bcryptprimitives.dll
 * bcryptprimitives.c -ladvapi32
 */
#include <windows.h>
#define SystemFunction036 NTAPI SystemFunction036
#include <ntsecapi.h>
#undef SystemFunction036
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
	while (len > 0) {
		ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
		if (!RtlGenRandom(data, n)) return FALSE;
		data += n; len -= n;
	}
	return TRUE;
}
