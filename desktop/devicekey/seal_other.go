//go:build !windows

package devicekey

import "fmt"

// seal keeps the seed as it is: outside Windows the file's mode (0600 in a
// 0700 folder) is its protection.
func seal(seed []byte) ([]byte, string, error) { return append([]byte(nil), seed...), "file", nil }

func unseal(b []byte, protection string) ([]byte, error) {
	if protection != "file" {
		return nil, fmt.Errorf("the key is sealed with %s, which only Windows opens", protection)
	}
	return unsealFile(b)
}
