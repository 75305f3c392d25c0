package patient

import (
	"strings"

	"github.com/clinicops/clinicops/pkg/validation"
)

// Address is where the patient lives. Line1 and Country are required when an
// address is given; every part is at most 200 characters.
type Address struct {
	Line1      string
	Line2      string
	City       string
	Region     string
	PostalCode string
	Country    string // ISO 3166-1 alpha-2, upper-case, e.g. CN
}

// EmergencyContact is whom to call about the patient. Name and Phone (E.164)
// are required.
type EmergencyContact struct {
	Name         string
	Relationship string
	Phone        string
}

const (
	maxAddressPart  = 200
	maxRelationship = 50
)

// ValidCountry reports whether s is an officially assigned ISO 3166-1 alpha-2
// code in upper case.
func ValidCountry(s string) bool {
	_, ok := countries[s]
	return len(s) == 2 && ok
}

func (a Address) validate(l *validation.List) Address {
	a.Line1 = l.CheckText("address.line1", a.Line1, true, maxAddressPart, false)
	a.Line2 = l.CheckText("address.line2", a.Line2, false, maxAddressPart, false)
	a.City = l.CheckText("address.city", a.City, false, maxAddressPart, false)
	a.Region = l.CheckText("address.region", a.Region, false, maxAddressPart, false)
	a.PostalCode = l.CheckText("address.postal_code", a.PostalCode, false, maxAddressPart, false)
	a.Country = strings.ToUpper(strings.TrimSpace(a.Country))
	switch {
	case a.Country == "":
		l.Add("address.country", "is required")
	case !ValidCountry(a.Country):
		l.Add("address.country", "must be an ISO 3166-1 alpha-2 country code, e.g. CN")
	}
	return a
}

func (c EmergencyContact) validate(l *validation.List) EmergencyContact {
	c.Name = l.CheckText("emergency_contact.name", c.Name, true, maxName, false)
	c.Relationship = l.CheckText("emergency_contact.relationship", c.Relationship, false, maxRelationship, false)
	c.Phone = strings.TrimSpace(c.Phone)
	switch {
	case c.Phone == "":
		l.Add("emergency_contact.phone", "is required")
	case !ValidPhone(c.Phone):
		l.Add("emergency_contact.phone", phoneMessage)
	}
	return c
}

// countries are the officially assigned ISO 3166-1 alpha-2 codes.
var countries = func() map[string]struct{} {
	m := make(map[string]struct{}, 249)
	for _, c := range strings.Fields(countryCodes) {
		m[c] = struct{}{}
	}
	return m
}()

const countryCodes = "" +
	"AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE " +
	"BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD " +
	"CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM " +
	"DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF " +
	"GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU " +
	"ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN " +
	"KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME " +
	"MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA " +
	"NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM " +
	"PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI " +
	"SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK " +
	"TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI " +
	"VN VU WF WS YE YT ZA ZM ZW "
