// Command shop is the module govulncheck scans in belay's tests: it calls
// parser.Parse (vulnerable in the test database) and imports codec without
// calling its vulnerable codec.Decode.
package main

import (
	"fmt"
	"os"

	"example.com/codec"
	"example.com/parser"
)

func main() {
	order, err := parser.Parse(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(codec.Encode(order))
}
