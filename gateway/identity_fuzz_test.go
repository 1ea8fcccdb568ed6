package gateway

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/batonchat/baton/session"
)

// FuzzIdentityToken: a visitor identity verifies only when it is HS256,
// signed with the merchant's identity secret (or the previous one inside
// its grace period), unexpired, and names a usable sub. Two halves: the
// fuzzer's own token strings, which may verify only if their signature is
// that HMAC; and tokens built from the fuzzer's claims with every method
// and key, whose outcome is known in advance.
func FuzzIdentityToken(f *testing.F) {
	now := time.Date(2026, 3, 5, 13, 0, 0, 0, time.UTC)
	const current, previous, other = "shop-identity-secret", "old-identity-secret", "test-secret-0123456789"
	f.Fuzz(func(t *testing.T, token, sub, email string, expOffset int64, method, key uint8, inGrace bool) {
		m := &session.Merchant{IdentitySecret: current, PreviousIdentitySecret: previous, PreviousSecretUntil: now.Add(time.Hour)}
		if !inGrace {
			m.PreviousSecretUntil = now.Add(-time.Second)
		}

		// The fuzzer's own token.
		if v, err := verifyIdentity(m, token, now); err == nil {
			parts := strings.Split(token, ".")
			if len(parts) != 3 {
				t.Fatalf("%q verified with %d parts", token, len(parts))
			}
			var h struct{ Alg string }
			raw, _ := base64.RawURLEncoding.DecodeString(parts[0])
			if json.Unmarshal(raw, &h) != nil || h.Alg != "HS256" {
				t.Fatalf("%q verified with header %s", token, raw)
			}
			sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
			if !bytes.Equal(sig, mac(current, parts[0]+"."+parts[1])) &&
				!(inGrace && bytes.Equal(sig, mac(previous, parts[0]+"."+parts[1]))) {
				t.Fatalf("%q verified without the HMAC of a secret in force", token)
			}
			if v.ProfileID == "" || len(v.ProfileID) > 256 || !v.Authenticated {
				t.Fatalf("%q verified as %+v", token, v)
			}
		}

		// A token made from the fuzzer's claims.
		expOffset %= 1 << 32 // NumericDate must stay a date
		claims := jwt.MapClaims{"sub": sub, "email": email, "exp": now.Unix() + expOffset}
		methods := []jwt.SigningMethod{jwt.SigningMethodHS256, jwt.SigningMethodHS384, jwt.SigningMethodHS512, jwt.SigningMethodNone}
		meth := methods[int(method)%len(methods)]
		keys := []string{current, previous, other, ""}
		k := keys[int(key)%len(keys)]
		var signed string
		var err error
		if meth == jwt.SigningMethodNone {
			signed, err = jwt.NewWithClaims(meth, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
		} else if k == "" {
			// An empty key is refused by golang-jwt; sign by hand.
			signed = handSigned(meth.Alg(), claims, k)
		} else {
			signed, err = jwt.NewWithClaims(meth, claims).SignedString([]byte(k))
		}
		if err != nil {
			t.Fatal(err)
		}
		wantSub := strings.TrimSpace(perByteValid(sub))
		want := meth == jwt.SigningMethodHS256 && (k == current || k == previous && inGrace) &&
			expOffset > -30 && wantSub != "" && len(wantSub) <= 256
		v, err := verifyIdentity(m, signed, now)
		if want != (err == nil) {
			t.Fatalf("alg %s, key %q, exp %+d s, sub %q, grace %v: verified %v (%v), want %v",
				meth.Alg(), k, expOffset, sub, inGrace, err == nil, err, want)
		}
		if err == nil && v.ProfileID != wantSub {
			t.Fatalf("profile %q, want %q", v.ProfileID, wantSub)
		}
		// A merchant without a secret verifies nothing.
		if _, err := verifyIdentity(&session.Merchant{}, signed, now); err == nil {
			t.Fatal("verified for a merchant without an identity secret")
		}
	})
}

func mac(secret, signing string) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(signing))
	return h.Sum(nil)
}

func handSigned(alg string, claims jwt.MapClaims, secret string) string {
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(map[string]string{"alg": alg, "typ": "JWT"})
	p, _ := json.Marshal(claims)
	signing := enc.EncodeToString(h) + "." + enc.EncodeToString(p)
	return signing + "." + enc.EncodeToString(mac(secret, signing))
}
