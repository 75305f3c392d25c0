package money

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ErrMalformedJSON: not exactly {"value": <integer>, "currency": "<code>"}.
var ErrMalformedJSON = errors.New(`money must be {"value": <integer minor units>, "currency": "<ISO 4217 code>"}`)

// MarshalJSON writes {"value": 2000000, "currency": "CNY"}, the value in
// minor units. The zero Money (no currency) has no JSON form.
func (m Money) MarshalJSON() ([]byte, error) {
	if !m.cur.known() {
		return nil, fmt.Errorf("%w: %q", ErrUnknownCurrency, m.cur.code)
	}
	return fmt.Appendf(nil, `{"value":%d,"currency":%q}`, m.minor, m.cur.code), nil
}

// UnmarshalJSON reads {"value": 2000000, "currency": "CNY"} strictly, since
// money is where a lenient reader hurts: both members, each once, nothing
// else, the names in lower case; the value a JSON integer that fits int64
// (not 1.5, 1e3, 2000000.0, "2000000" or null); the currency a known code.
// Whether the amount may be zero or negative is the caller's rule
// (CheckPayment).
func (m *Money) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return ErrMalformedJSON
	}
	var (
		value              int64
		code               string
		haveValue, haveCur bool
	)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return ErrMalformedJSON
		}
		key, _ := tok.(string) // object keys are always strings
		switch key {
		case "value":
			if haveValue {
				return fmt.Errorf("%w: value given twice", ErrMalformedJSON)
			}
			haveValue = true
			if value, err = readMinor(dec); err != nil {
				return err
			}
		case "currency":
			if haveCur {
				return fmt.Errorf("%w: currency given twice", ErrMalformedJSON)
			}
			haveCur = true
			tok, err := dec.Token()
			s, ok := tok.(string)
			if err != nil || !ok {
				return fmt.Errorf("%w: currency is not a string", ErrMalformedJSON)
			}
			code = s
		default:
			return fmt.Errorf("%w: unknown member %q", ErrMalformedJSON, key)
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return ErrMalformedJSON
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: data after the object", ErrMalformedJSON)
	}
	if !haveValue || !haveCur {
		return fmt.Errorf("%w: value and currency are both required", ErrMalformedJSON)
	}
	c, err := ParseCurrency(code)
	if err != nil {
		return err
	}
	*m = Money{minor: value, cur: c}
	return nil
}

func readMinor(dec *json.Decoder) (int64, error) {
	tok, err := dec.Token()
	if err != nil {
		return 0, ErrMalformedJSON
	}
	n, ok := tok.(json.Number)
	if !ok {
		return 0, fmt.Errorf("%w: value is not a number", ErrMalformedJSON)
	}
	if !isInteger(string(n)) {
		return 0, fmt.Errorf("%w: value %s is not an integer of minor units", ErrMalformedJSON, n)
	}
	v, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: value %s does not fit in int64", ErrOverflow, n)
	}
	return v, nil
}

// isInteger reports whether a JSON number has neither fraction nor
// exponent; the decoder has already checked it is a JSON number.
func isInteger(s string) bool {
	return s != "" && !strings.ContainsAny(s, ".eE")
}
