// protoc-gen-go, kept apart from ../go.mod so that its version stays equal to
// the google.golang.org/protobuf runtime in pkg/go.mod (buf needs a newer one).
// scripts/proto-gen.sh builds it into bin/protoc-gen-go. Bump it together with
// pkg/go.mod, then run `make proto`.
module github.com/clinicops/clinicops/tools/protoc-gen-go

go 1.26.0

tool google.golang.org/protobuf/cmd/protoc-gen-go

require google.golang.org/protobuf v1.36.11 // indirect
