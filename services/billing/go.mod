module github.com/clinicops/clinicops/services/billing

go 1.26.0

require github.com/clinicops/clinicops/pkg v0.0.0

replace github.com/clinicops/clinicops/pkg => ../../pkg
