package messaging

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// DLQStream holds dead letters under clinicops.dlq.<consumer>.
const DLQStream = "DLQ"

// DLQSubjectPrefix prefixes dead-letter subjects.
const DLQSubjectPrefix = "clinicops.dlq."

// StreamConfig tunes the streams.
type StreamConfig struct {
	// Replicas per stream (1 for a single server, 3 in production).
	Replicas int
	// Duplicates is JetStream's de-duplication window (default 10 min): an
	// event republished by the relay within it is dropped by the server.
	Duplicates time.Duration
	// MaxAge bounds retention (0 = keep forever: finance replays from the start).
	MaxAge time.Duration
	// Services whose streams to ensure: each owns the stream <SERVICE> over
	// clinicops.<service>.>. The DLQ is always ensured.
	Services []string
}

// EnsureStreams creates or updates the given services' streams and the DLQ,
// with file storage; every caller derives the same configuration from a
// service's name, so they converge. It is idempotent and safe to run from every replica at start.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, cfg StreamConfig) error {
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	if cfg.Duplicates <= 0 {
		cfg.Duplicates = 10 * time.Minute
	}
	streams := make([]jetstream.StreamConfig, 0, len(cfg.Services)+1)
	for _, svc := range cfg.Services {
		streams = append(streams, jetstream.StreamConfig{
			Name:        strings.ToUpper(svc),
			Description: "events published by clinicops " + svc,
			Subjects:    []string{"clinicops." + svc + ".>"},
		})
	}
	streams = append(streams, jetstream.StreamConfig{
		Name:        DLQStream,
		Description: "messages a consumer gave up on, with the error and attempts",
		Subjects:    []string{DLQSubjectPrefix + ">"},
	})
	for _, sc := range streams {
		sc.Storage = jetstream.FileStorage
		sc.Retention = jetstream.LimitsPolicy
		sc.Replicas = cfg.Replicas
		sc.Duplicates = cfg.Duplicates
		sc.MaxAge = cfg.MaxAge
		// A stream already as configured is left alone: an update rewrites
		// the server's file store config while other services create their
		// consumers on it, a data race inside nats-server v2.15
		// (fileStore.UpdateConfig against fileStore.ConsumerStore) that the
		// race detector caught when four services started at once.
		if st, err := js.Stream(ctx, sc.Name); err == nil && sameStream(st.CachedInfo().Config, sc) {
			continue
		}
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("ensure stream %s: %w", sc.Name, err)
		}
	}
	return nil
}

// sameStream reports whether have already has what EnsureStreams sets.
func sameStream(have, want jetstream.StreamConfig) bool {
	return have.Description == want.Description && slices.Equal(have.Subjects, want.Subjects) &&
		have.Storage == want.Storage && have.Retention == want.Retention && have.Replicas == want.Replicas &&
		have.Duplicates == want.Duplicates && have.MaxAge == want.MaxAge
}
