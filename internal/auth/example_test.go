package auth_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/surgeload/surge/internal/auth"
)

// A coordinator and an agent secured with the files of `coordinator certs
// init`: the agent serves only our coordinator, the coordinator talks only
// to our agents.
func Example() {
	dir, err := os.MkdirTemp("", "surge-certs")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	b, err := auth.NewBundle(auth.BundleOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := auth.WriteBundle(dir, b, false); err != nil {
		fmt.Println(err)
		return
	}

	agent := auth.Config{CAFile: dir + "/ca.crt", CertFile: dir + "/agent.crt", KeyFile: dir + "/agent.key"}
	serverOpts, err := auth.ServerOptions(agent) // for agent.Config.ServerOptions
	fmt.Println(len(serverOpts), err)

	coord := auth.Config{CAFile: dir + "/ca.crt", CertFile: dir + "/coordinator.crt", KeyFile: dir + "/coordinator.key"}
	dialOpts, err := auth.DialOptions(coord) // for coordinator.Config.DialOptions
	fmt.Println(len(dialOpts), err)

	// An agent's certificate cannot play the coordinator.
	_, err = auth.DialOptions(agent)
	fmt.Println(strings.ReplaceAll(err.Error(), dir, "DIR"))

	key, err := auth.ReadGossipKey(dir + "/gossip.key") // for the Configs' GossipKey
	fmt.Println(len(key), err)
	// Output:
	// 1 <nil>
	// 1 <nil>
	// auth: certificate file DIR/agent.crt (with CA file DIR/ca.crt): certificate role: "agent" carries the agent role where the coordinator role is required
	// 32 <nil>
}
