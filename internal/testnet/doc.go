// Package testnet provides loopback network fixtures for tests.
//
// Each fixture takes the test's testing.TB, fails the test when it cannot
// be set up, and is released by t.Cleanup; fixtures may be used from
// parallel tests.
package testnet
