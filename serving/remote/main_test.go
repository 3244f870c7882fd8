package remote

import (
	"os"
	"testing"

	"github.com/actorserve/actorserve/serving/source"
)

// TestMain lets the tests' servers on 127.0.0.1 be called, as an operator
// would with --model-hosts 127.0.0.1.
func TestMain(m *testing.M) {
	source.SetPolicy(source.Policy{Hosts: []string{"127.0.0.1"}})
	os.Exit(m.Run())
}
