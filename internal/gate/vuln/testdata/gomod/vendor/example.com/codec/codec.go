// Package codec stands in for a third-party module at v0.9.1.
package codec

import "strings"

// Encode joins fields.
func Encode(fields []string) string { return strings.Join(fields, ";") }

// Decode splits a line joined by Encode.
func Decode(s string) []string { return strings.Split(s, ";") }
