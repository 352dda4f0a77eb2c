// Package benchrun is what the bench harnesses share: running measurements a
// few at a time, and writing their figures the same way.
package benchrun

import (
	"fmt"
	"math"

	"golang.org/x/sync/errgroup"
)

// Parallel runs f(0..n-1), par at a time, and returns the results in order
// with the first error.
func Parallel[T any](n, par int, f func(int) (T, error)) ([]T, error) {
	out := make([]T, n)
	var g errgroup.Group
	g.SetLimit(max(par, 1))
	for i := range n {
		g.Go(func() (err error) {
			out[i], err = f(i)
			return err
		})
	}
	return out, g.Wait()
}

// Num writes a figure with three significant digits, whole from 100 on,
// and "never" for +Inf or NaN (a run that never decided).
func Num(x float64) string {
	switch {
	case math.IsInf(x, 1) || math.IsNaN(x):
		return "never"
	case x >= 100:
		return fmt.Sprintf("%.0f", x)
	}
	return fmt.Sprintf("%.3g", x)
}
