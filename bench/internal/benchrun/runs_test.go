package benchrun

import (
	"errors"
	"math"
	"testing"
)

func TestParallelKeepsOrderAndError(t *testing.T) {
	out, err := Parallel(10, 3, func(i int) (int, error) { return i * i, nil })
	if err != nil || out[9] != 81 || out[3] != 9 {
		t.Fatalf("%v %v", out, err)
	}
	boom := errors.New("boom")
	if _, err := Parallel(5, 2, func(i int) (int, error) {
		if i == 3 {
			return 0, boom
		}
		return i, nil
	}); !errors.Is(err, boom) {
		t.Fatalf("error %v", err)
	}
}

func TestNum(t *testing.T) {
	for x, want := range map[float64]string{math.Inf(1): "never", math.NaN(): "never", 1234.5: "1234", 5.126: "5.13", 0.75: "0.75"} {
		if got := Num(x); got != want {
			t.Errorf("Num(%v) = %q, want %q", x, got, want)
		}
	}
}
