package session

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// sealer encrypts helpdesk credentials at rest (API tokens and keys, OAuth
// client secrets, OAuth token pairs, the PKCE verifier of a sign-in under
// way) with AES-256-GCM. Its keys are derived from BATON_SECRET and, while
// the secret rotates, BATON_SECRET_PREVIOUS, with HKDF-SHA256 and a label
// of their own: the signing key of agent tokens is never the encryption
// key. Whatever is sealed with the previous key still opens, and is sealed
// with the current one the next time it is written.
//
// Each value is sealed for one place (the additional data: merchant,
// helpdesk and the account's address), so a sealed token copied into
// another merchant's record, or read for an account that now points
// elsewhere, does not open.
type sealer struct {
	keys []sealKey // the current first
}

type sealKey struct {
	id   string
	aead cipher.AEAD
}

// sealLabel names what the derived key is for.
const sealLabel = "baton helpdesk credentials v1"

// newSealer derives the keys. Without a secret (tests of the core that run
// no gateway) the key is derived from the empty string: cmd/baton always
// passes one.
func newSealer(current []byte, previous ...[]byte) *sealer {
	s := &sealer{}
	for i, secret := range append([][]byte{current}, previous...) {
		if i > 0 && len(secret) == 0 {
			continue
		}
		key, err := hkdf.Key(sha256.New, secret, nil, sealLabel, 32)
		if err != nil {
			panic("session: deriving the sealing key: " + err.Error())
		}
		block, _ := aes.NewCipher(key)
		aead, _ := cipher.NewGCM(block)
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte("key id"))
		s.keys = append(s.keys, sealKey{id: hex.EncodeToString(mac.Sum(nil)[:4]), aead: aead})
	}
	return s
}

// seal encrypts plain for the place aad: "s1.KEYID.BASE64(nonce|sealed)".
func (s *sealer) seal(plain []byte, aad string) string {
	k := s.keys[0]
	nonce := make([]byte, k.aead.NonceSize())
	_, _ = rand.Read(nonce)
	out := k.aead.Seal(nonce, nonce, plain, []byte(aad))
	return "s1." + k.id + "." + base64.RawURLEncoding.EncodeToString(out)
}

// open decrypts what seal made for the same place, with whichever key
// sealed it. ok is false for anything else: another place, a key Baton no
// longer has, or a value that was tampered with.
func (s *sealer) open(sealed, aad string) (plain []byte, ok bool) {
	parts := strings.Split(sealed, ".")
	if len(parts) != 3 || parts[0] != "s1" {
		return nil, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, false
	}
	for _, k := range s.keys {
		if k.id != parts[1] || len(raw) < k.aead.NonceSize() {
			continue
		}
		n := k.aead.NonceSize()
		if p, err := k.aead.Open(nil, raw[:n], raw[n:], []byte(aad)); err == nil {
			return p, true
		}
	}
	return nil, false
}

// current reports whether sealed was made with the current key.
func (s *sealer) current(sealed string) bool {
	return strings.HasPrefix(sealed, "s1."+s.keys[0].id+".")
}
