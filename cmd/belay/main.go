// Command belay is a release orchestrator that makes safe delivery the default.
package main

import (
	"os"

	"github.com/belay-dev/belay/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
