// Package parser stands in for a third-party module at v1.4.0.
package parser

import "strings"

// Parse splits an order line into its fields.
func Parse(s string) ([]string, error) {
	return strings.Split(s, ","), nil
}
