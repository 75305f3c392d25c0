package main

// Issue 10's end-to-end suite, first part: every path `clinicops demo`
// walks, through the four real services (real Postgres, an in-process
// JetStream, one dev clock), each ending with the invariants across the
// services, exactly as the demo prints them.

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/cmd/clinicops/internal/journey"
)

func TestJourneys(t *testing.T) {
	t.Parallel()
	for _, path := range journey.Paths {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			d, monitor := startMonitoredJourney(t)
			var out bytes.Buffer
			err := demo(context.Background(), d, path, monitor, &out)
			t.Log("\n" + out.String())
			require.NoError(t, err)
			require.NotContains(t, out.String(), "FAIL")
		})
	}
}
