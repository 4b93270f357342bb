package schema

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// typeCanons give the canonical form of the values of some typedefs, which
// the datastore stores and every front end renders: an OSPF area given as
// an integer is stored dotted (area 1 is 0.0.0.1), a password given in
// plain text is stored in its cipher form. They run after the typedef's own
// restrictions and may refuse a value.
var typeCanons = map[string]func(string) (string, error){
	"ospf-area-id":    canonAreaID,
	"cipher-password": canonCipher,
}

// canonAreaID writes an area ID as a dotted quad.
func canonAreaID(v string) (string, error) {
	if strings.Contains(v, ".") {
		return v, nil // the pattern checked the dotted quad
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		return "", fmt.Errorf("area %s is not in 0-4294967295", v)
	}
	return fmt.Sprintf("%d.%d.%d.%d", n>>24, n>>16&0xff, n>>8&0xff, n&0xff), nil
}

// cipherMark opens and closes VRP's cipher form.
const cipherMark = "%^%#"

// maxPlainPassword is the longest password taken in plain text.
const maxPlainPassword = 16

var cipherKey = []byte("vpnos-vrp-cipher")

// CipherPassword returns the cipher form of a plain password.
func CipherPassword(plain string) string {
	b := []byte(plain)
	for i := range b {
		b[i] ^= cipherKey[i%len(cipherKey)]
	}
	return cipherMark + base64.RawStdEncoding.EncodeToString(b) + cipherMark
}

// PlainPassword returns the password of a cipher form.
func PlainPassword(cipher string) (string, error) {
	body, ok := strings.CutPrefix(cipher, cipherMark)
	if ok {
		body, ok = strings.CutSuffix(body, cipherMark)
	}
	if !ok || body == "" {
		return "", errors.New("not a cipher password")
	}
	b, err := base64.RawStdEncoding.DecodeString(body)
	if err != nil || len(b) == 0 || len(b) > maxPlainPassword {
		return "", errors.New("not a cipher password")
	}
	for i := range b {
		b[i] ^= cipherKey[i%len(cipherKey)]
	}
	return string(b), nil
}

func canonCipher(v string) (string, error) {
	if strings.HasPrefix(v, cipherMark) {
		pw, err := PlainPassword(v)
		if err != nil {
			return "", fmt.Errorf("%q: %w", v, err)
		}
		if !passwordChars(pw) {
			return "", fmt.Errorf("%q: the password has a character a password cannot have (a space, a question mark, a control character)", v)
		}
		return v, nil
	}
	if len(v) > maxPlainPassword {
		return "", fmt.Errorf("a plain password has at most %d characters", maxPlainPassword)
	}
	return CipherPassword(v), nil
}

// passwordChars tells whether a password decoded from a cipher form takes
// only the characters the type takes in plain text: UTF-8 without spaces,
// question marks, control characters or line separators.
func passwordChars(pw string) bool {
	if !utf8.ValidString(pw) {
		return false
	}
	for _, r := range pw {
		if r == ' ' || r == '?' || unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return false
		}
	}
	return true
}
