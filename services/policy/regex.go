package policy

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
)

// VRP's AS-path regular expressions are matched against the AS path as
// text (ASPathString: "65001 65002 {65003,65004}"). They use the POSIX
// operators . * + ? ^ $ | ( ) [ ] - and the underscore, which stands for a
// delimiter: a space, a comma, a brace, a parenthesis, a bracket, the
// start or the end of the text. Braces are literal (they delimit AS_SETs),
// a backslash quotes the character after it. Letters (and with them Perl
// classes such as \d, flags such as (?i)) are refused.
//
// The expression is translated to Go's RE2 syntax, which matches in time
// linear in the text: no expression, however nested, can make a match
// slow.

// maxRegexLen is the longest AS-path regular expression accepted.
const maxRegexLen = 1024

// underscore is what VRP's '_' becomes.
const underscore = `(?:^|$|[ ,{}()\[\]])`

// translateASPathRegex turns a VRP AS-path regular expression into RE2
// syntax.
func translateASPathRegex(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("empty expression")
	}
	if len(s) > maxRegexLen {
		return "", fmt.Errorf("longer than %d characters", maxRegexLen)
	}
	out := make([]byte, 0, len(s)+16)
	inClass := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 >= len(s) {
				return "", fmt.Errorf("trailing backslash")
			}
			n := s[i+1]
			if !quotable(n) {
				return "", fmt.Errorf("\\%c is not supported", n)
			}
			if isDigit(n) {
				out = append(out, n)
			} else {
				out = append(out, '\\', n)
			}
			i++
		case inClass:
			switch {
			case c == ']':
				inClass = false
				out = append(out, c)
			case c == '[':
				// A literal bracket inside a class (RE2 would read
				// "[:" as a POSIX class).
				out = append(out, '\\', c)
			case isDigit(c) || c == '-' || c == '^' || c == ' ' || c == ',' || c == '_' || c == '.' ||
				c == '{' || c == '}' || c == '(' || c == ')' || c == '*' || c == '+' || c == '?' || c == '|' || c == '$':
				if c == '-' || c == '^' || isDigit(c) {
					out = append(out, c)
				} else {
					out = append(out, '\\', c)
				}
			default:
				return "", fmt.Errorf("the character %q is not supported", c)
			}
		case c == '[':
			inClass = true
			out = append(out, c)
			// A ']' right after '[' or '[^' is a literal member.
			if i+1 < len(s) && s[i+1] == '^' {
				out = append(out, '^')
				i++
			}
			if i+1 < len(s) && s[i+1] == ']' {
				out = append(out, '\\', ']')
				i++
			}
		case c == '_':
			out = append(out, underscore...)
		case c == '{' || c == '}' || c == ',' || c == ']':
			out = append(out, '\\', c)
		case c == '(':
			if i+1 < len(s) && s[i+1] == '?' {
				return "", fmt.Errorf("(? is not supported")
			}
			out = append(out, c)
		case isDigit(c) || c == ' ' || c == '^' || c == '$' || c == '.' || c == '*' || c == '+' || c == '?' ||
			c == ')' || c == '|':
			out = append(out, c)
		default:
			return "", fmt.Errorf("the character %q is not supported", c)
		}
	}
	if inClass {
		return "", fmt.Errorf("missing ]")
	}
	return string(out), nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// quotable are the characters a backslash may quote.
func quotable(c byte) bool {
	switch c {
	case '.', '*', '+', '?', '^', '$', '|', '(', ')', '[', ']', '{', '}', '\\', '_', '-', ',', ' ':
		return true
	}
	return isDigit(c)
}

// compileASPathRegex translates and compiles a VRP AS-path expression.
func compileASPathRegex(s string) (*regexp.Regexp, error) {
	g, err := translateASPathRegex(s)
	if err != nil {
		return nil, err
	}
	re, err := regexp.Compile(g)
	if err != nil {
		var e *syntax.Error
		if errors.As(err, &e) {
			return nil, fmt.Errorf("%s", e.Code)
		}
		return nil, err
	}
	return re, nil
}
