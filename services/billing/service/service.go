// Package service describes billing: its configuration, migrations, the
// events it consumes and how it is wired on a platform runtime. The binary,
// `clinicops dev` and the tests all start it from Service.
package service

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"

	intakev1 "github.com/clinicops/clinicops/pkg/events/clinicops/intake/v1"
	schedulingv1 "github.com/clinicops/clinicops/pkg/events/clinicops/scheduling/v1"
	"github.com/clinicops/clinicops/pkg/idempotency"
	"github.com/clinicops/clinicops/pkg/jobs"
	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/pkg/pgdb"
	"github.com/clinicops/clinicops/pkg/platform"
	"github.com/clinicops/clinicops/services/billing/api"
	"github.com/clinicops/clinicops/services/billing/internal/adapters"
	"github.com/clinicops/clinicops/services/billing/internal/app"
	"github.com/clinicops/clinicops/services/billing/internal/domain/money"
	"github.com/clinicops/clinicops/services/billing/internal/domain/policy"
	"github.com/clinicops/clinicops/services/billing/internal/ports"
	"github.com/clinicops/clinicops/services/billing/migrations"
)

// Config is billing's own configuration.
type Config struct {
	// Currency is the clinic's ISO 4217 currency for new accounts
	// (BILLING_CURRENCY, or CLINIC_CURRENCY; default CNY).
	Currency string
	// ApprovalAbove: a refund above this many minor units waits for an
	// admin (BILLING_REFUND_APPROVAL_ABOVE, default 1000000: 10,000.00 CNY;
	// 0 means none waits).
	ApprovalAbove int64
	// Terms are the clinic's payment terms: the deposit is due
	// BILLING_DEPOSIT_DUE_DAYS after planning (default 7), an instalment
	// BILLING_INSTALMENT_LEAD_DAYS before its cycle (default 14).
	Terms policy.ScheduleOptions
}

// LoadConfig reads billing's settings through getenv.
func LoadConfig(getenv func(string) string) (Config, error) {
	c := Config{Currency: "CNY", ApprovalAbove: 1_000_000, Terms: policy.ScheduleOptions{DepositDueDays: 7, InstalmentLeadDays: 14}}
	if v := strings.TrimSpace(getenv("BILLING_REFUND_APPROVAL_ABOVE")); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || n > 1_000_000_000_000 {
			return c, fmt.Errorf("BILLING_REFUND_APPROVAL_ABOVE %q: want minor units from 0 to 10^12", v)
		}
		c.ApprovalAbove = n
	}
	for name, into := range map[string]*int{"BILLING_DEPOSIT_DUE_DAYS": &c.Terms.DepositDueDays, "BILLING_INSTALMENT_LEAD_DAYS": &c.Terms.InstalmentLeadDays} {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 365 {
				return c, fmt.Errorf("%s %q: want whole days from 0 to 365", name, v)
			}
			*into = n
		}
	}
	for _, k := range []string{"BILLING_CURRENCY", "CLINIC_CURRENCY"} {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			if len(v) != 3 || strings.ToUpper(v) != v {
				return c, fmt.Errorf("%s %q: want an ISO 4217 code such as CNY", k, v)
			}
			c.Currency = v
			break
		}
	}
	return c, nil
}

// LogValue lists the settings at start (none is secret).
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.String("currency", c.Currency), slog.Int64("refund_approval_above", c.ApprovalAbove),
		slog.Int("deposit_due_days", c.Terms.DepositDueDays),
		slog.Int("instalment_lead_days", c.Terms.InstalmentLeadDays))
}

// Service is billing, described once.
var Service = platform.Define(platform.Definition[Config]{
	Name:        "billing",
	DefaultAddr: ":8083",
	Migrations:  []pgdb.MigrationSource{migrations.Source},
	OpenAPI:     api.OpenAPI,
	Consumes: []string{
		messaging.SubjectOf(&intakev1.PatientRegistered{}),
		messaging.SubjectOf(&schedulingv1.CoursePlanned{}),
		messaging.SubjectOf(&schedulingv1.CultureStarted{}),
		messaging.SubjectOf(&schedulingv1.AppointmentCompleted{}),
		messaging.SubjectOf(&schedulingv1.CourseCancelled{}),
		messaging.SubjectOf(&schedulingv1.ProductFailed{}),
	},
	Config: LoadConfig,
	Build: func(ctx context.Context, rt *platform.Runtime, cfg Config) error {
		store := &adapters.Store{DB: rt.DB, Outbox: rt.Outbox}
		billing := &app.Billing{Clock: rt.Clock, Location: rt.Location, Terms: cfg.Terms}
		if cfg.ApprovalAbove > 0 {
			cur, err := money.ParseCurrency(cfg.Currency)
			if err != nil {
				return fmt.Errorf("currency %s: %w", cfg.Currency, err)
			}
			if billing.ApprovalAbove, err = money.New(cfg.ApprovalAbove, cur); err != nil {
				return err
			}
		}
		workers := river.NewWorkers()
		river.AddWorker(workers, &adapters.OverdueCheckWorker{Store: store, App: billing})
		jobClient, err := rt.UseJobs(ctx, workers, jobs.Config{})
		if err != nil {
			return err
		}
		store.Jobs = jobClient
		if err := ports.Events(rt.Processor, store.Tx, app.OpenAccount{Currency: cfg.Currency}, billing); err != nil {
			return err
		}
		idem := &idempotency.Store{DB: rt.DB, Log: rt.Log}
		rt.Background(func(ctx context.Context) error { return idem.RunPruner(ctx, time.Hour) })
		ports.HTTP{Accounts: adapters.Accounts{DB: rt.DB}, Read: adapters.Queries{DB: rt.DB}, UoW: store, App: billing,
			Idempotency: idem}.Routes(rt.Router)
		ports.ReferenceHTTP{Store: adapters.ReferenceAdmin{DB: rt.DB}, Idempotency: idem,
			Lists: app.PriceLists{Store: adapters.ReferenceAdmin{DB: rt.DB}, Calendar: rt.Calendar()}}.Routes(rt.Router)
		return nil
	},
	// The demo price lists and cancellation policies (never over the
	// clinic's own edits).
	Seed: func(ctx context.Context, rt *platform.Runtime) error {
		return adapters.Seed(ctx, rt.DB, rt.Now())
	},
})
