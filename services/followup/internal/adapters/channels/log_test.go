package channels

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/services/followup/internal/app"
)

func TestLogChannelLogsIDsOnly(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	ch := NewLog(slog.New(slog.NewJSONHandler(&buf, nil)))
	require.True(t, ch.Idempotent())
	msg := app.Message{IdempotencyKey: "reminder-5", To: "wang.fang@example.test", Subject: "王芳的预约",
		Body: "王芳您好，明天九点输注。", Language: "zh-CN", Kind: "visit_48h"}
	require.NoError(t, ch.Send(context.Background(), msg))

	var line map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line))
	require.Equal(t, "INFO", line["level"])
	require.Equal(t, "log", line["channel"])
	require.Equal(t, "visit_48h", line["kind"])
	require.Equal(t, "reminder-5", line["idempotency_key"])
	require.Equal(t, "zh-CN", line["language"])
	for _, personal := range []string{"wang", "王芳", "预约", "输注"} {
		require.NotContains(t, buf.String(), personal)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, ch.Send(ctx, msg), context.Canceled)
}
