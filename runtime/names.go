package runtime

import (
	"crypto/rand"
	"encoding/hex"
	"math/big"
)

// Names den gives containers that the user did not name: an adjective and a noun, as
// podman's generated names read.
var (
	adjectives = []string{"agile", "bold", "brave", "bright", "calm", "clever", "cool", "crisp", "eager", "fair",
		"fancy", "gentle", "happy", "humble", "jolly", "keen", "kind", "lively", "lucid", "merry",
		"mighty", "nimble", "noble", "plucky", "proud", "quick", "quiet", "rapid", "serene", "sharp",
		"shiny", "silent", "smart", "steady", "sunny", "swift", "tidy", "vivid", "warm", "witty"}
	nouns = []string{"badger", "beaver", "bison", "cedar", "comet", "crane", "delta", "dune", "falcon", "fern",
		"fjord", "gecko", "glacier", "harbor", "heron", "ibis", "lagoon", "lark", "lynx", "maple",
		"meadow", "mesa", "otter", "owl", "panda", "pebble", "pine", "quartz", "raven", "reef",
		"river", "robin", "sparrow", "spruce", "summit", "tundra", "valley", "walrus", "willow", "yak"}
)

// drawName gives a container without a name its name; tests replace it.
var drawName = randomName

func randomName() string {
	pick := func(l []string) string {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(l))))
		if err != nil {
			return l[0]
		}
		return l[n.Int64()]
	}
	var b [2]byte
	_, _ = rand.Read(b[:])
	// A short random suffix keeps generated names from colliding in busy stores.
	return pick(adjectives) + "_" + pick(nouns) + "_" + hex.EncodeToString(b[:])
}
