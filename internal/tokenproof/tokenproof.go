// Package tokenproof is how the coordinator and an agent prove to each
// other that they hold the shared token (internal/auth's token mode)
// without sending it: each picks a random nonce, and each sends an
// HMAC-SHA256 keyed by the token over its role, the run id and both
// nonces, which the other checks in constant time.
package tokenproof

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
)

// The roles a session proof is made for: the agent proves first, then the
// coordinator; a proof made for one role never passes as the other's.
const (
	ProofAgent       = "surge/v1 agent proof"
	ProofCoordinator = "surge/v1 coordinator proof"
)

// NonceSize is the size of the nonces each side picks for a session.
const NonceSize = 32

// Nonce returns a fresh random nonce.
func Nonce() []byte {
	b := make([]byte, NonceSize)
	_, _ = rand.Read(b)
	return b
}

// Proof is what a side holding the shared token sends to show it, without
// sending the token: HMAC-SHA256 keyed by the token over the role, the
// run id and both sides' nonces. A peer without the token learns nothing
// it can use: not the token, and no proof for another session or role.
func Proof(token []byte, role, runID string, coordinatorNonce, agentNonce []byte) []byte {
	m := hmac.New(sha256.New, token)
	for _, part := range [][]byte{[]byte(role), []byte(runID), coordinatorNonce, agentNonce} {
		var n [4]byte
		n[0], n[1], n[2], n[3] = byte(len(part)>>24), byte(len(part)>>16), byte(len(part)>>8), byte(len(part))
		m.Write(n[:])
		m.Write(part)
	}
	return m.Sum(nil)
}

// VerifyProof checks a peer's proof in constant time. Nonces shorter than
// NonceSize are refused: a peer must not choose an empty challenge.
func VerifyProof(token []byte, role, runID string, coordinatorNonce, agentNonce, proof []byte) bool {
	if len(coordinatorNonce) < NonceSize || len(agentNonce) < NonceSize {
		return false
	}
	return hmac.Equal(proof, Proof(token, role, runID, coordinatorNonce, agentNonce))
}
