package ports

import (
	"bytes"
	"encoding/json"
)

// optional tells an absent JSON member (Set false) from null (Set, Null) and
// from a value, for PATCH.
type optional[T any] struct {
	Set   bool
	Null  bool
	Value T
}

// UnmarshalJSON runs only for members present in the document.
func (o *optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}
