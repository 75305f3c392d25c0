module github.com/clinicops/clinicops/cmd/clinicops

go 1.26.0
