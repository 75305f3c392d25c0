package contact_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/services/followup/internal/domain/contact"
)

func TestChannelsNeedAddressAndConsent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		c    contact.Contact
		want []contact.Channel
	}{
		{"none consented", contact.Contact{Phone: "+8613800138000", Email: "a@b.cn"}, nil},
		{"sms only", contact.Contact{Phone: "+8613800138000", SMSConsent: true, EmailConsent: true}, []contact.Channel{contact.ChannelSMS}},
		{"both", contact.Contact{Phone: "+8613800138000", Email: "a@b.cn", SMSConsent: true, EmailConsent: true},
			[]contact.Channel{contact.ChannelSMS, contact.ChannelEmail}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.c.PatientID, tc.c.Version = uuid.New(), 1
			c, err := contact.New(tc.c)
			require.NoError(t, err)
			require.Equal(t, tc.want, c.Channels())
		})
	}
}

func TestNewRejectsMissingIdentity(t *testing.T) {
	t.Parallel()
	_, err := contact.New(contact.Contact{Version: 1})
	require.Error(t, err)
	c, err := contact.New(contact.Contact{PatientID: uuid.New(), Version: 1})
	require.NoError(t, err)
	require.Equal(t, "zh-CN", c.PreferredLanguage)
}

func TestTimeZoneKeptOrTheClinics(t *testing.T) {
	t.Parallel()
	for zone, want := range map[string]string{"Europe/Berlin": "Europe/Berlin", "": "", "Mars/Olympus_Mons": "", "Local": "", "../etc/passwd": ""} {
		c, err := contact.New(contact.Contact{PatientID: uuid.New(), Version: 1, TimeZone: zone})
		if err != nil {
			t.Fatal(err)
		}
		if c.TimeZone != want {
			t.Errorf("zone %q kept as %q, want %q", zone, c.TimeZone, want)
		}
	}
}
