package httpx

import (
	"bytes"
	"encoding/json"
)

// Optional is a PATCH member: it tells an absent JSON member (Set false) from
// null (Set and Null: clear the field) and from a value. Declare the members
// of a patch body as Optional[T] without omitempty and decode with
// DecodeJSON. In the OpenAPI document a clearable member is
// `type: [T, "null"]`, which oapi-codegen turns into nullable.Nullable[T].
type Optional[T any] struct {
	Set   bool
	Null  bool
	Value T
}

// UnmarshalJSON runs only for members present in the document.
func (o *Optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

// Present reports whether the member carries a value (set and not null).
func (o Optional[T]) Present() bool { return o.Set && !o.Null }
