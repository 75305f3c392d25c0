package journey

import (
	"fmt"
	"time"
)

// The answers the journey reads, as the services' OpenAPI documents give
// them (only the members it uses).

// Money is an amount in minor units (fen) of an ISO 4217 currency.
type Money struct {
	Value    int64  `json:"value"`
	Currency string `json:"currency"`
}

func (m Money) String() string {
	return fmt.Sprintf("%d.%02d %s", m.Value/100, abs(m.Value%100), m.Currency)
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// Patient is the patient the journey walks, as intake registered them,
// and the course it requested.
type Patient struct {
	ID        string `json:"id"`
	BirthDate string `json:"birth_date"`
	// CourseID is set by RequestCourse.
	CourseID string `json:"-"`
	// Program is the course's program.
	Program string `json:"-"`
}

// NewPatient is what the front desk registers. The journey needs no more
// personal data than the API requires; make it up.
type NewPatient struct {
	FamilyName        string `json:"family_name"`
	GivenName         string `json:"given_name"`
	BirthDate         string `json:"birth_date"`
	Sex               string `json:"sex"`
	Phone             string `json:"phone,omitempty"`
	PreferredLanguage string `json:"preferred_language,omitempty"`
}

// Program is an intake program with its screening checklist.
type Program struct {
	Code            string `json:"code"`
	ProtocolVersion string `json:"protocol_version"`
	Screening       struct {
		Version     string   `json:"version"`
		Indications []string `json:"indications"`
		Questions   []struct {
			ID                  string `json:"id"`
			DisqualifyingAnswer bool   `json:"disqualifying_answer"`
		} `json:"questions"`
	} `json:"screening"`
}

// Course is scheduling's plan of a course.
type Course struct {
	ID              string     `json:"id"`
	PatientID       string     `json:"patient_id"`
	Program         string     `json:"program"`
	ProtocolVersion string     `json:"protocol_version"`
	Status          string     `json:"status"`
	Reason          *string    `json:"reason"`
	FundedAt        *time.Time `json:"funded_at"`
	Cycles          []Cycle    `json:"cycles"`
	Version         int64      `json:"version"`
}

// Cycle is one cycle of a course plan.
type Cycle struct {
	Number       int           `json:"number"`
	Phase        string        `json:"phase"`
	TargetDate   string        `json:"target_date"`
	Status       string        `json:"status"`
	Appointments []Appointment `json:"appointments"`
	Product      *Product      `json:"product"`
}

// Appointment is one scheduled occurrence.
type Appointment struct {
	ID        string    `json:"id"`
	CourseID  *string   `json:"course_id"`
	Cycle     *int      `json:"cycle"`
	Kind      string    `json:"kind"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Status    string    `json:"status"`
	ProductID *string   `json:"product_id"`
	Reason    *string   `json:"reason"`
}

// Product is a cell product.
type Product struct {
	ID         string  `json:"id"`
	Status     string  `json:"status"`
	CourseID   *string `json:"course_id"`
	Cycle      *int    `json:"cycle"`
	FailReason *string `json:"fail_reason"`
}

// Protocol is the part of a scheduling protocol the journey uses.
type Protocol struct {
	Program   string `json:"program"`
	Version   string `json:"version"`
	DoseCells int64  `json:"dose_cells"`
	NoDeposit bool   `json:"no_deposit"`
}

// QC is what the lab measured before releasing a product.
type QC struct {
	ViabilityPct     float64 `json:"viability_pct"`
	PurityPct        float64 `json:"purity_pct"`
	EndotoxinEUPerML float64 `json:"endotoxin_eu_per_ml"`
	Sterility        string  `json:"sterility"`
	Mycoplasma       string  `json:"mycoplasma"`
}

// GoodQC passes every seeded protocol's release criteria.
var GoodQC = QC{ViabilityPct: 96, PurityPct: 96, EndotoxinEUPerML: 1, Sterility: "negative", Mycoplasma: "negative"}

// Invoice is a billing invoice.
type Invoice struct {
	ID                   string  `json:"id"`
	Number               *string `json:"number"`
	Status               string  `json:"status"`
	Kind                 string  `json:"kind"`
	CourseID             *string `json:"course_id"`
	Cycle                int     `json:"cycle"`
	Total                Money   `json:"total"`
	Paid                 Money   `json:"paid"`
	Credited             Money   `json:"credited"`
	Refunded             Money   `json:"refunded"`
	MovedToAccountCredit Money   `json:"moved_to_account_credit"`
	AmountDue            Money   `json:"amount_due"`
	DueDate              *string `json:"due_date"`
}

// Account is a patient's billing account.
type Account struct {
	PatientID string  `json:"patient_id"`
	Currency  string  `json:"currency"`
	Balance   Balance `json:"balance"`
}

// Balance is an account's balances, from its ledger postings.
type Balance struct {
	Owed          Money `json:"owed"`
	AccountCredit Money `json:"account_credit"`
	PaidIn        Money `json:"paid_in"`
	Refunded      Money `json:"refunded"`
	Revenue       Money `json:"revenue"`
	Deferred      Money `json:"deferred"`
}

// Payment is a recorded payment.
type Payment struct {
	ID              string `json:"id"`
	Amount          Money  `json:"amount"`
	ToAccountCredit Money  `json:"to_account_credit"`
	Allocations     []struct {
		InvoiceID string `json:"invoice_id"`
		Number    string `json:"number"`
		Amount    Money  `json:"amount"`
	} `json:"allocations"`
}

// CreditNote is an issued credit note.
type CreditNote struct {
	ID              string `json:"id"`
	Number          string `json:"number"`
	InvoiceID       string `json:"invoice_id"`
	InvoiceNumber   string `json:"invoice_number"`
	Total           Money  `json:"total"`
	ReduceOwed      Money  `json:"reduce_owed"`
	Refund          Money  `json:"refund"`
	ToAccountCredit Money  `json:"to_account_credit"`
	FromRevenue     Money  `json:"from_revenue"`
	Reason          string `json:"reason"`
}

// LedgerCheck is billing's ledger check.
type LedgerCheck struct {
	OK         bool `json:"ok"`
	Postings   int  `json:"postings"`
	Accounts   int  `json:"accounts"`
	Violations []struct {
		Rule      string `json:"rule"`
		PatientID string `json:"patient_id"`
		Detail    string `json:"detail"`
	} `json:"violations"`
}

// PriceList is the part of a billing price list the journey uses.
type PriceList struct {
	Program         string `json:"program"`
	ProtocolVersion string `json:"protocol_version"`
	ValidFrom       string `json:"valid_from"`
	Currency        string `json:"currency"`
	CoursePrice     Money  `json:"course_price"`
	Deposit         Money  `json:"deposit"`
	LabFee          Money  `json:"lab_fee"`
	PerInfusion     Money  `json:"per_infusion"`
}

// StageRule is what a cancellation at one stage does with the money paid.
type StageRule struct {
	ForfeitLabFee bool    `json:"forfeit_lab_fee"`
	KeepInfusions bool    `json:"keep_infusions"`
	RefundShareBP int64   `json:"refund_share_bp"`
	RestTo        *string `json:"rest_to"`
}

// CancellationPolicy is a program's cancellation terms.
type CancellationPolicy struct {
	Program                    string    `json:"program"`
	BeforeCulture              StageRule `json:"before_culture"`
	CultureStarted             StageRule `json:"culture_started"`
	InfusionsGiven             StageRule `json:"infusions_given"`
	KeepLabFeeOnProductFailure bool      `json:"keep_lab_fee_on_product_failure"`
}

// Appointment returns the cycle's appointment of kind: the one still
// ahead (booked or checked in) when there is one, as after a failed
// product the cycle is booked again; else the last one not cancelled.
func (c Course) Appointment(cycle int, kind string) (Appointment, bool) {
	var found Appointment
	ok := false
	for _, cy := range c.Cycles {
		if cy.Number != cycle {
			continue
		}
		for _, a := range cy.Appointments {
			if a.Kind != kind || a.Status == "cancelled" {
				continue
			}
			if a.Status == "booked" || a.Status == "checked_in" {
				return a, true
			}
			found, ok = a, true
		}
	}
	return found, ok
}

// Deposit is the course's deposit invoice among invs, or false.
func Deposit(invs []Invoice) (Invoice, bool) {
	for _, inv := range invs {
		if inv.Kind == "deposit" {
			return inv, true
		}
	}
	return Invoice{}, false
}
