package cli

import (
	"encoding/json"
	"fmt"
	"io"
)

// emit prints v as indented JSON when -o json was given, else calls text.
func (g *Globals) emit(w io.Writer, v any, text func(io.Writer) error) error {
	if g.Output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false) // keep "error_rate > 1%" readable
		if err := enc.Encode(v); err != nil {
			return fmt.Errorf("write JSON output: %w", err)
		}
		return nil
	}
	return text(w)
}
