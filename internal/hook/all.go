package hook

import "context"

// RunAll runs specs in order and stops at the first failure; the results of
// every hook that ran come back as evidence.
func RunAll(ctx context.Context, specs []Spec) ([]Result, error) {
	out := make([]Result, 0, len(specs))
	for _, s := range specs {
		res, err := Run(ctx, s)
		out = append(out, res)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}
