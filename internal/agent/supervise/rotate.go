package supervise

import (
	"fmt"
	"io"
	"os"
)

// Rotate keeps an instance's log file under max bytes with keep older
// copies (path.1 newest … path.keep oldest). The instance holds the file open
// in append mode (possibly from before an agent restart), so the file is
// copied and truncated in place rather than renamed; the instance's next
// write lands at the new end.
func Rotate(path string, max int64, keep int) error {
	fi, err := os.Stat(path)
	if err != nil || fi.Size() <= max {
		return nil
	}
	for i := keep - 1; i >= 1; i-- {
		_ = os.Rename(fmt.Sprintf("%s.%d", path, i), fmt.Sprintf("%s.%d", path, i+1))
	}
	src, err := os.Open(path)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.Create(path + ".1")
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	if err := dst.Close(); err != nil {
		return err
	}
	return os.Truncate(path, 0)
}
