package product_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/services/scheduling/internal/domain/product"
)

func TestCheckCharacterKnownValues(t *testing.T) {
	t.Parallel()
	// Published MOD 37-2 values: the first is the DIN example of the ISBT 128
	// standard (G1234 89 654321 Y).
	for data, want := range map[string]byte{
		"G123489654321": 'Y',
		"A999915000001": 'M',
		"LMOSBYFCTRSSJCB3X6U9DUBLKNIH03FO6X963TGXYAHG":  '*',
		"G7N286AL39FFQNU6BH8SMJB5VGMBCB6WPGMWJK800VU7K": 'P',
	} {
		got, err := product.CheckCharacter(data)
		require.NoError(t, err)
		require.Equal(t, string(want), string(got), data)
	}
	_, err := product.CheckCharacter("G1234-89")
	require.ErrorIs(t, err, product.ErrMalformedDIN)
}

func TestParseDIN(t *testing.T) {
	t.Parallel()
	d, err := product.ParseDIN("G1234 89 654321 Y")
	require.NoError(t, err)
	require.Equal(t, "G123489654321", d.String())
	require.Equal(t, "G1234 89 654321 Y", d.Label())
	require.Equal(t, "G1234", d.Facility())
	require.Equal(t, 89, d.Year())
	require.Equal(t, 654321, d.Sequence())

	same, err := product.ParseDIN("g123489654321y")
	require.NoError(t, err)
	require.Equal(t, d, same, "scanners and people: spaces and case do not matter")
	without, err := product.ParseDIN("G123489654321")
	require.NoError(t, err)
	require.Equal(t, d, without)

	for in, want := range map[string]error{
		"G123489654321Z":   product.ErrCheckCharacter, // one wrong character
		"G123489654322Y":   product.ErrCheckCharacter, // a mistyped digit
		"G123498654321Y":   product.ErrCheckCharacter, // two digits swapped
		"":                 product.ErrMalformedDIN,
		"G12348965432":     product.ErrMalformedDIN,
		"G1234896543211Y":  product.ErrMalformedDIN,
		"11234896543211":   product.ErrMalformedDIN, // facility starts with a letter
		"GA23489654321Y":   product.ErrMalformedDIN,
		"G1234896543A1Y":   product.ErrMalformedDIN,
		"G123400000000":    product.ErrMalformedDIN, // sequence 0
		"G12348965432\x00": product.ErrMalformedDIN,
	} {
		_, err := product.ParseDIN(in)
		require.ErrorIs(t, err, want, "%q", in)
	}
}

func TestNewDINRoundTrips(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		facility  string
		year, seq int
	}{{"G1234", 26, 1}, {"W0000", 0, 999999}, {"A9999", 99, 123456}} {
		d, err := product.NewDIN(tc.facility, tc.year, tc.seq)
		require.NoError(t, err)
		back, err := product.ParseDIN(d.Label())
		require.NoError(t, err)
		require.Equal(t, d, back)
	}
	for _, bad := range []struct {
		facility  string
		year, seq int
	}{{"g1234", 26, 1}, {"G123", 26, 1}, {"G1234", 100, 1}, {"G1234", -1, 1}, {"G1234", 26, 0}, {"G1234", 26, 1000000}} {
		_, err := product.NewDIN(bad.facility, bad.year, bad.seq)
		require.ErrorIs(t, err, product.ErrMalformedDIN, "%+v", bad)
	}
}

// Every single-character error in a DIN with its check character is
// detected: that is what MOD 37-2 promises, and why scanners use it.
func TestEverySingleSubstitutionIsDetected(t *testing.T) {
	t.Parallel()
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"
	good := "G123489654321Y"
	for i := range len(good) {
		for j := range len(alphabet) {
			c := alphabet[j]
			if c == good[i] {
				continue
			}
			s := good[:i] + string(c) + good[i+1:]
			_, err := product.ParseDIN(s)
			require.Error(t, err, s)
		}
	}
}

func FuzzParseDIN(f *testing.F) {
	for _, s := range []string{"G1234 89 654321 Y", "A999915000001M", "", "G123489654321", "g1234 89 654321 *"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := product.ParseDIN(s)
		if err != nil {
			if !errors.Is(err, product.ErrMalformedDIN) && !errors.Is(err, product.ErrCheckCharacter) {
				t.Fatalf("ParseDIN(%q): unexpected error %v", s, err)
			}
			return
		}
		// What parses prints back to the same DIN, with a matching check.
		back, err := product.ParseDIN(d.Label())
		if err != nil || back != d {
			t.Fatalf("ParseDIN(%q) = %v, its label %q does not parse back: %v", s, d, d.Label(), err)
		}
	})
}
