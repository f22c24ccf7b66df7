// Command agent is a Surge agent: it joins a coordinator's gossip cluster
// and fires the load it is assigned. --version prints its build.
//
// main only turns SIGINT and SIGTERM into a cancelled context and exits
// with the code run returns; run(ctx, args, stdout, stderr) starts the
// agent, serves until ctx is cancelled, then closes it (the agent also
// stops firing by itself when its coordinator's lease runs out). Exit
// codes are those of internal/exitcode: 0 after a clean shutdown, 2 on a
// usage error, 3 when the agent cannot start or close.
package main
