package orchestrate

import "fmt"

// errorf wraps sentinel with a message: errorf(ErrBadRequest, "…%s", x).
func errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
}
