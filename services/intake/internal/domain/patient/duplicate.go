package patient

import (
	"time"

	"github.com/google/uuid"
)

// Duplicate rules, the values of DuplicateError.Rule.
const (
	// DuplicateRuleNationalID: both patients have a national id of the same
	// type and the same normalised value.
	DuplicateRuleNationalID = "national_id"
	// DuplicateRuleNameBirthDatePhone: same family name, given name, birth
	// date and phone. Names compare exactly after trimming (as stored, and as
	// the patients_identity_key index compares them); the birth date by
	// calendar day; the phone only when both patients have one, so two
	// patients without a phone are never duplicates by this rule.
	DuplicateRuleNameBirthDatePhone = "name_birth_date_phone"
)

// DuplicateRule reports which rule, if any, makes candidate a duplicate of
// existing. Both are expected to be validated (normalised) details; the
// national id rule is checked first.
func DuplicateRule(candidate, existing Details) (rule string, ok bool) {
	if a, b := candidate.NationalID, existing.NationalID; a != nil && b != nil &&
		a.Value != "" && a.Type == b.Type && a.Value == b.Value {
		return DuplicateRuleNationalID, true
	}
	if candidate.Phone != "" && candidate.Phone == existing.Phone &&
		candidate.FamilyName == existing.FamilyName && candidate.GivenName == existing.GivenName &&
		sameDay(candidate.BirthDate, existing.BirthDate) {
		return DuplicateRuleNameBirthDatePhone, true
	}
	return "", false
}

// CheckDuplicate returns a *DuplicateError naming the first of existing that
// d duplicates, skipping the patient with id self (pass uuid.Nil when
// registering), or nil.
func CheckDuplicate(d Details, existing []*Patient, self uuid.UUID) error {
	for _, p := range existing {
		if p == nil || p.id == self {
			continue
		}
		if rule, ok := DuplicateRule(d, p.details); ok {
			return &DuplicateError{ExistingID: p.id, Rule: rule}
		}
	}
	return nil
}

func sameDay(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd
}
