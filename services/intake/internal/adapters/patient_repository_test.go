package adapters_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	intakev1 "github.com/clinicops/clinicops/pkg/events/clinicops/intake/v1"
	"github.com/clinicops/clinicops/services/intake/internal/app"
	"github.com/clinicops/clinicops/services/intake/internal/domain/patient"
)

func TestPatientAddGet(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	d := details("王", "小明", "+8613800138000")
	d.Email = "xm@example.cn"
	d.TimeZone = "Europe/Berlin"
	d.NationalID = &patient.NationalID{Type: patient.NationalIDPassport, Value: "E12345678"}
	d.Address = &patient.Address{Line1: "朝阳区建国路 88 号", City: "北京", Country: "CN"}
	d.EmergencyContact = &patient.EmergencyContact{Name: "李华", Relationship: "spouse", Phone: "+8613900139000"}
	p := b.addPatient(t, d)

	got, err := b.patients.Get(ctx, p.ID())
	require.NoError(t, err)
	require.Equal(t, p.Details(), got.Details())
	require.Equal(t, p.Version(), got.Version())
	require.Equal(t, p.CreatedAt(), got.CreatedAt())
	require.Empty(t, got.Events(), "a loaded patient has recorded nothing")

	rows := b.outbox(t)
	require.Len(t, rows, 1, "one row per recorded event")
	var reg intakev1.PatientRegistered
	requireEvent(t, rows[0], p.ID(), &reg)
	require.EqualValues(t, 1, reg.GetVersion())
	require.Equal(t, "王", reg.GetFamilyName())
	require.Equal(t, "1980-05-17", reg.GetBirthDate())
	require.Equal(t, "Europe/Berlin", reg.GetTimeZone())
	require.Equal(t, now, reg.GetOccurredAt().AsTime())
	require.NotContains(t, string(rows[0].Payload), "E12345678", "the national id stays in intake")
	require.NotContains(t, string(rows[0].Payload), "李华", "the emergency contact stays in intake")
}

func TestPatientNotFound(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	_, err := b.patients.Get(ctx, uuid.New())
	require.ErrorIs(t, err, patient.ErrNotFound)
	_, err = b.patients.Update(ctx, uuid.New(), func(*patient.Patient) error { return nil })
	require.ErrorIs(t, err, patient.ErrNotFound)
}

func TestPatientAddDuplicate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		second func(first patient.Details) patient.Details
		rule   string
	}{
		{"same national id", func(d patient.Details) patient.Details {
			d.GivenName, d.Phone = "另一个", "+8613800138111"
			return d
		}, patient.DuplicateRuleNationalID},
		{"same name, birth date and phone", func(d patient.Details) patient.Details {
			d.NationalID = nil
			return d
		}, patient.DuplicateRuleNameBirthDatePhone},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			d := details("王", "小明", "+8613800138000")
			d.NationalID = &patient.NationalID{Type: patient.NationalIDPassport, Value: "E12345678"}
			first := b.addPatient(t, d)

			p, err := patient.NewPatient(uuid.New(), tc.second(d), now)
			require.NoError(t, err)
			err = b.patients.Add(context.Background(), p)
			var dup *patient.DuplicateError
			require.ErrorAs(t, err, &dup)
			require.Equal(t, first.ID(), dup.ExistingID)
			require.Equal(t, tc.rule, dup.Rule)
			require.Equal(t, 1, b.count(t, `SELECT count(*) FROM patients`))
			require.Len(t, b.outbox(t), 1, "the rolled back registration wrote no event")
		})
	}
}

func TestPatientUpdate(t *testing.T) {
	t.Parallel()
	later := now.Add(time.Hour)
	moved := func(d patient.Details) patient.Details {
		d.Phone, d.TimeZone = "+8613800138999", "Asia/Tokyo"
		return d
	}
	tests := []struct {
		name    string
		fn      func(p *patient.Patient) error
		wantErr error
		version int64 // stored afterwards
		events  int   // outbox rows afterwards
	}{
		{"changes", func(p *patient.Patient) error { return p.Update(moved(p.Details()), 1, later) }, nil, 2, 2},
		{"no-op", func(p *patient.Patient) error { return p.Update(p.Details(), 1, later) }, nil, 1, 1},
		{"stale version", func(p *patient.Patient) error { return p.Update(moved(p.Details()), 9, later) },
			patient.ErrVersionMismatch, 1, 1},
		{"changes then fails", func(p *patient.Patient) error {
			if err := p.Update(moved(p.Details()), 1, later); err != nil {
				return err
			}
			return errors.New("boom")
		}, errors.New("boom"), 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			p := b.addPatient(t, details("王", "小明", "+8613800138000"))
			got, err := b.patients.Update(context.Background(), p.ID(), tc.fn)
			if tc.wantErr != nil {
				require.ErrorContains(t, err, tc.wantErr.Error())
			} else {
				require.NoError(t, err)
				require.Equal(t, tc.version, got.Version())
			}
			stored, err := b.patients.Get(context.Background(), p.ID())
			require.NoError(t, err)
			require.Equal(t, tc.version, stored.Version())
			rows := b.outbox(t)
			require.Len(t, rows, tc.events)
			if tc.version == 2 {
				require.Equal(t, "+8613800138999", stored.Details().Phone)
				require.Equal(t, "Asia/Tokyo", stored.Details().TimeZone)
				require.Equal(t, later, stored.UpdatedAt())
				var upd intakev1.PatientUpdated
				requireEvent(t, rows[1], p.ID(), &upd)
				require.EqualValues(t, 2, upd.GetVersion())
				require.Equal(t, "+8613800138999", upd.GetPhone())
				require.Equal(t, "Asia/Tokyo", upd.GetTimeZone())
				require.Equal(t, later, upd.GetOccurredAt().AsTime())
			} else {
				require.Equal(t, now, stored.UpdatedAt(), "nothing written")
			}
		})
	}
}

func TestPatientUpdateDuplicate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	d := details("王", "小明", "+8613800138000")
	d.NationalID = &patient.NationalID{Type: patient.NationalIDPassport, Value: "E12345678"}
	first := b.addPatient(t, d)
	second := b.addPatient(t, details("李", "雷", "+8613800138001"))
	_, err := b.patients.Update(context.Background(), second.ID(), func(p *patient.Patient) error {
		d := p.Details()
		d.NationalID = &patient.NationalID{Type: patient.NationalIDPassport, Value: "E12345678"}
		return p.Update(d, 1, now.Add(time.Hour))
	})
	var dup *patient.DuplicateError
	require.ErrorAs(t, err, &dup)
	require.Equal(t, first.ID(), dup.ExistingID)
	require.Equal(t, patient.DuplicateRuleNationalID, dup.Rule)
	require.Len(t, b.outbox(t), 2, "only the two registrations")
}

// TestPatientUpdateLocks: two desks change the same patient from version 1
// at once. The row lock makes the second wait and then see version 2, so it
// fails with a version mismatch instead of silently overwriting the first.
func TestPatientUpdateLocks(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	p := b.addPatient(t, details("王", "小明", "+8613800138000"))
	change := func(phone string) func(*patient.Patient) error {
		return func(p *patient.Patient) error {
			d := p.Details()
			d.Phone = phone
			return p.Update(d, 1, now.Add(time.Hour))
		}
	}
	inFirst, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	var firstErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, firstErr = b.patients.Update(ctx, p.ID(), func(p *patient.Patient) error {
			close(inFirst)
			<-release
			return change("+8613800138111")(p)
		})
	}()
	<-inFirst
	secondDone := make(chan error, 1)
	go func() {
		_, err := b.patients.Update(ctx, p.ID(), change("+8613800138222"))
		secondDone <- err
	}()
	b.waitForLockWait(t)
	close(release)
	wg.Wait()
	require.NoError(t, firstErr)
	require.ErrorIs(t, <-secondDone, patient.ErrVersionMismatch)

	stored, err := b.patients.Get(ctx, p.ID())
	require.NoError(t, err)
	require.Equal(t, "+8613800138111", stored.Details().Phone)
	require.Len(t, b.outbox(t), 2)
}

// TestSearchPaging pages through a few hundred patients whose names share
// prefixes: every hit comes exactly once, in order, and no cursor carries
// any part of a name.
func TestSearchPaging(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	families := []string{"Zhang", "Zhan", "Zhao", "Zh ang"}
	want := map[uuid.UUID]bool{}
	var names []string
	for i := range 240 {
		family := families[i%len(families)]
		given := fmt.Sprintf("Wei%03d", i%60) // the same full name up to four times
		names = append(names, family, given)
		p := b.addPatient(t, details(family, given, fmt.Sprintf("+86138%08d", i)))
		if strings.HasPrefix(strings.ToLower(strings.ReplaceAll(family+given, " ", "")), "zhan") {
			want[p.ID()] = true
		}
	}
	b.addPatient(t, details("Li", "Lei", "+8613900000000"))

	tests := []struct {
		name string
		q    app.PatientSearch
		want int
	}{
		{"name prefix", app.PatientSearch{NamePrefix: "ZHAN", Limit: 7}, len(want)},
		{"name prefix with a space", app.PatientSearch{NamePrefix: "zh an", Limit: 11}, len(want)},
		{"everyone, by id", app.PatientSearch{Limit: 13}, 241},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			seen := map[uuid.UUID]bool{}
			lastKey := ""
			q := tc.q
			for pages := 0; ; pages++ {
				require.Less(t, pages, 300, "paging ends")
				found, next, err := b.patients.Search(ctx, q)
				require.NoError(t, err)
				require.LessOrEqual(t, len(found), q.Limit)
				for _, p := range found {
					require.False(t, seen[p.ID()], "patient %s returned twice", p.ID())
					seen[p.ID()] = true
					if q.NamePrefix != "" {
						require.True(t, want[p.ID()])
						key := strings.ToLower(strings.ReplaceAll(p.Details().FamilyName+p.Details().GivenName, " ", ""))
						require.GreaterOrEqual(t, key, lastKey, "name order")
						lastKey = key
					}
				}
				if next == "" {
					break
				}
				requireOpaque(t, next, names)
				q.Cursor = next
			}
			require.Len(t, seen, tc.want, "every hit once")
		})
	}
}

// requireOpaque checks that a cursor, raw or decoded, carries no name.
func requireOpaque(t *testing.T, cursor string, names []string) {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	require.NoError(t, err)
	for _, s := range []string{cursor, string(raw), strings.ToLower(string(raw))} {
		for _, n := range names {
			for _, part := range []string{n, strings.ToLower(strings.ReplaceAll(n, " ", ""))[:3]} {
				require.NotContains(t, s, part, "cursor %q carries a name", cursor)
			}
		}
	}
	require.Len(t, raw, 16, "a cursor is a patient id and nothing else")
}

func TestSearchBadCursor(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	for i := range 3 {
		b.addPatient(t, details("Zhang", fmt.Sprintf("Wei%d", i), fmt.Sprintf("+861380000000%d", i)))
	}
	unknown := uuid.New()
	zero := make([]byte, 16)
	tests := []struct {
		name   string
		cursor string
	}{
		{"not base64", "!!not a cursor!!"},
		{"too short", base64.RawURLEncoding.EncodeToString([]byte("short"))},
		{"too long", base64.RawURLEncoding.EncodeToString(make([]byte, 17))},
		{"the old name cursor", base64.RawURLEncoding.EncodeToString([]byte(`{"k":"zhangwei","i":"` + unknown.String() + `"}`))},
		{"nil id", base64.RawURLEncoding.EncodeToString(zero)},
		{"no such patient", base64.RawURLEncoding.EncodeToString(unknown[:])},
	}
	for _, tc := range tests {
		for _, q := range []app.PatientSearch{{NamePrefix: "zhang", Limit: 2}, {Limit: 2}} {
			q.Cursor = tc.cursor
			_, _, err := b.patients.Search(ctx, q)
			require.ErrorIs(t, err, app.ErrBadCursor, "%s (name %q)", tc.name, q.NamePrefix)
		}
	}
}
