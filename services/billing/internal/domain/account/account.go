// Package account is a patient's account with the clinic: what they owe
// and what they paid, in integer minor units of one currency.
package account

import (
	"errors"
	"regexp"
	"time"

	"github.com/google/uuid"
)

// ErrNotFound: no account for this patient.
var ErrNotFound = errors.New("account not found")

var currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)

// Account is opened once per patient.
type Account struct {
	PatientID uuid.UUID
	Currency  string
	OpenedAt  time.Time
	// Version is the patient's version in intake when the account last changed.
	Version int64
}

// Open opens an account in the clinic's currency.
func Open(patientID uuid.UUID, currency string, version int64, at time.Time) (Account, error) {
	if patientID == uuid.Nil {
		return Account{}, errors.New("account needs a patient id")
	}
	if !currencyCode.MatchString(currency) {
		return Account{}, errors.New("currency must be an ISO 4217 code")
	}
	return Account{PatientID: patientID, Currency: currency, OpenedAt: at, Version: version}, nil
}
