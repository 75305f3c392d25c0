package bench

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/clinicops/clinicops/pkg/devstack"
	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/pgdb"
	"github.com/clinicops/clinicops/pkg/platform"
)

// runService runs svc, as its binary would, on a fresh database db of pg
// and on js, until stop is called or the benchmark ends (a failed Run
// fails it).
func runService(b *testing.B, svc platform.Service, db string, pg *devstack.Postgres, js *jsServer,
	tokens *httpx.TokenStore, log *slog.Logger, pool int) (rt *platform.Runtime, stop func()) {
	b.Helper()
	ctx := context.Background()
	var err error
	if err = pg.DropDatabase(ctx, db); err != nil {
		b.Fatal(err)
	}
	if err := pg.CreateDatabase(ctx, db, ""); err != nil {
		b.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	rt, err = svc.New(runCtx, platform.Options{
		Config: platform.Config{Service: svc.Name, HTTPAddr: "127.0.0.1:0", DatabaseURL: pg.DSN(db), NATSURL: js.srv.ClientURL()},
		Tokens: tokens, Log: log, Pool: pgdb.PoolConfig{MaxOpenConns: pool},
	})
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- rt.Run(runCtx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				b.Errorf("%s: %v", svc.Name, err)
			}
		})
	}
	b.Cleanup(stop)
	return rt, stop
}
