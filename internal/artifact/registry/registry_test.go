package registry

import (
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/belay-dev/belay/internal/artifact"
	"github.com/belay-dev/belay/internal/artifact/storetest"
	"github.com/belay-dev/belay/internal/testenv"
)

func TestStore(t *testing.T) {
	host := testenv.Registry(t)
	storetest.Run(t, func(t *testing.T) artifact.Store {
		s, err := New(host + "/belay-test/" + randomName())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func randomName() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
