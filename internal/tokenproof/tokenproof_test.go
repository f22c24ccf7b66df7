package tokenproof

import (
	"bytes"
	"testing"
)

func TestProof(t *testing.T) {
	tok := []byte("s3cret-token")
	cn, an := Nonce(), Nonce()
	p := Proof(tok, ProofAgent, "run1", cn, an)
	if !VerifyProof(tok, ProofAgent, "run1", cn, an, p) {
		t.Fatal("a right proof is refused")
	}
	if bytes.Contains(p, tok) {
		t.Error("the proof carries the token")
	}
	for name, ok := range map[string]bool{
		"other role":  VerifyProof(tok, ProofCoordinator, "run1", cn, an, p),
		"other run":   VerifyProof(tok, ProofAgent, "run2", cn, an, p),
		"other nonce": VerifyProof(tok, ProofAgent, "run1", Nonce(), an, p),
		"swapped":     VerifyProof(tok, ProofAgent, "run1", an, cn, p),
		"other token": VerifyProof([]byte("guess"), ProofAgent, "run1", cn, an, p),
		"empty proof": VerifyProof(tok, ProofAgent, "run1", cn, an, nil),
		"short nonce": VerifyProof(tok, ProofAgent, "run1", cn[:4], an, Proof(tok, ProofAgent, "run1", cn[:4], an)),
	} {
		if ok {
			t.Errorf("%s: accepted", name)
		}
	}
	// Field boundaries are framed: moving bytes between fields changes it.
	if bytes.Equal(Proof(tok, ProofAgent, "ab", cn, an), Proof(tok, ProofAgent+"a", "b", cn, an)) {
		t.Error("fields are not framed")
	}
	if Nonce() == nil || bytes.Equal(Nonce(), Nonce()) {
		t.Error("nonces repeat")
	}
}
