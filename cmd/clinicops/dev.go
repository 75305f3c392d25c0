package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/clinicops/clinicops/pkg/clock"
	"github.com/clinicops/clinicops/pkg/devstack"
	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/platform"
	billing "github.com/clinicops/clinicops/services/billing/service"
	followup "github.com/clinicops/clinicops/services/followup/service"
	intake "github.com/clinicops/clinicops/services/intake/service"
	scheduling "github.com/clinicops/clinicops/services/scheduling/service"
)

// services in port order: intake on base, scheduling on base+1, ...
var services = []platform.Service{intake.Service, scheduling.Service, billing.Service, followup.Service}

type devFlags struct {
	dataDir         string
	host            string
	basePort        int
	natsPort        int
	natsMonitorPort int
	devPort         int
	pgPort          int
	logLevel        string
}

func parseDevFlags(args []string) (devFlags, error) {
	var f devFlags
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.StringVar(&f.dataDir, "data-dir", ".data", "where PostgreSQL, NATS and the dev tokens keep their data")
	fs.StringVar(&f.host, "host", "127.0.0.1", "interface the services, NATS and PostgreSQL listen on")
	fs.IntVar(&f.basePort, "base-port", 8081, "intake's port; scheduling, billing and followup take the next three")
	fs.IntVar(&f.natsPort, "nats-port", 4222, "embedded NATS client port")
	fs.IntVar(&f.natsMonitorPort, "nats-monitor-port", 8222, "embedded NATS monitoring port")
	fs.IntVar(&f.devPort, "dev-port", 8080, "dev-only endpoints (/dev/clock), admin token")
	fs.IntVar(&f.pgPort, "pg-port", 54329, "local PostgreSQL port")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	return f, fs.Parse(args)
}

// runDev runs everything until ctx is done. Data survives restarts; a
// previous run killed with -9 leaves nothing that blocks this one.
func runDev(ctx context.Context, args []string, out io.Writer) error {
	f, err := parseDevFlags(args)
	if err != nil {
		return err
	}
	log := platform.NewLogger(f.logLevel, "text")
	if err := os.MkdirAll(f.dataDir, 0o755); err != nil {
		return err
	}
	dataDir, err := filepath.Abs(f.dataDir)
	if err != nil {
		return err
	}

	natsURL := os.Getenv("NATS_URL")
	if natsURL == "" {
		ns, err := devstack.StartNATS(devstack.NATSOptions{StoreDir: filepath.Join(dataDir, "nats"), Host: f.host,
			Port: f.natsPort, HTTPPort: f.natsMonitorPort, Logger: log})
		if err != nil {
			return fmt.Errorf("start nats: %w", err)
		}
		defer ns.Shutdown()
		natsURL = ns.ClientURL()
	}

	dsns := map[string]string{}
	for _, s := range services {
		if v := os.Getenv(strings.ToUpper(s.Name) + "_DATABASE_URL"); v != "" {
			dsns[s.Name] = v
		}
	}
	var pg *devstack.Postgres
	if len(dsns) < len(services) {
		if _, err := devstack.EnsurePostgresInstalled(ctx, log); err != nil {
			return err
		}
		pg, err = devstack.StartPostgres(ctx, devstack.PostgresOptions{DataDir: filepath.Join(dataDir, "postgres"),
			Host: f.host, Port: f.pgPort, Durable: true, Logger: log})
		if err != nil {
			return fmt.Errorf("start postgres: %w", err)
		}
		defer func() {
			if err := pg.Stop(); err != nil {
				log.Warn("stop postgres", "err", err)
			}
		}()
		for _, s := range services {
			if dsns[s.Name] != "" {
				continue
			}
			if err := pg.EnsureDatabase(ctx, s.Name); err != nil {
				return fmt.Errorf("create database %s: %w", s.Name, err)
			}
			dsns[s.Name] = pg.DSN(s.Name)
		}
	}

	tokensFile := filepath.Join(dataDir, "dev-tokens.env")
	tokens, err := loadOrCreateDevTokens(tokensFile)
	if err != nil {
		return err
	}
	store, err := httpx.NewTokenStore(tokens)
	if err != nil {
		return err
	}

	// One clock for every service: /dev/clock moves it forward for all of
	// them at once, and durable jobs that come due fire as if that time had
	// passed. The service binaries always use the system clock.
	devClock := clock.NewDev()
	devLn, err := net.Listen("tcp", net.JoinHostPort(f.host, strconv.Itoa(f.devPort)))
	if err != nil {
		return fmt.Errorf("listen for /dev/clock: %w", err)
	}
	// Until Run takes them over, a failed start releases what it opened.
	started := false
	runtimes := make([]*platform.Runtime, 0, len(services))
	defer func() {
		if !started {
			_ = devLn.Close()
			for _, rt := range runtimes {
				rt.Abandon()
			}
		}
	}()
	devRouter := httpx.NewRouter(store, log)
	devRouter.Handle("GET /dev/clock", clock.Handler(devClock), httpx.RoleAdmin)
	devRouter.Handle("POST /dev/clock", clock.Handler(devClock), httpx.RoleAdmin)

	for i, s := range services {
		cfg := platform.Config{Service: s.Name, HTTPAddr: net.JoinHostPort(f.host, strconv.Itoa(f.basePort+i)),
			DatabaseURL: dsns[s.Name], NATSURL: natsURL}
		getenv := os.Getenv
		if s.Name == "followup" {
			if getenv, err = devCheckInLinks(dataDir, cfg.HTTPAddr); err != nil {
				return err
			}
		}
		rt, err := s.New(ctx, platform.Options{Config: cfg, Getenv: getenv, Tokens: store, Log: log, Clock: devClock})
		if err != nil {
			return fmt.Errorf("start %s: %w", s.Name, err)
		}
		runtimes = append(runtimes, rt)
		// Demo reference data, added where missing, never overwriting.
		if err := s.Seed(ctx, rt); err != nil {
			return err
		}
	}
	printBanner(out, runtimes, natsURL, f, pg, tokens, tokensFile)

	started = true
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return httpx.ServeListener(gctx, devLn, httpx.ServerConfig{}, devRouter, log) })
	for _, rt := range runtimes {
		g.Go(func() error { return rt.Run(gctx) })
	}
	err = g.Wait()
	_, _ = fmt.Fprintln(out, "clinicops dev stopped")
	return err
}

func printBanner(out io.Writer, rts []*platform.Runtime, natsURL string, f devFlags, pg *devstack.Postgres, tokens map[httpx.Role][]string, tokensFile string) {
	printf := func(format string, args ...any) { _, _ = fmt.Fprintf(out, format, args...) }
	printf("clinicops dev is running. Ctrl-C stops it; data stays in %s\n", f.dataDir)
	for _, rt := range rts {
		printf("  %-11s http://%s   (/healthz, /readyz)\n", rt.Config.Service, rt.Addr())
	}
	printf("  %-11s http://%s/dev/clock   (admin token; POST {\"advance\":\"336h\"} moves every service's clock forward)\n",
		"clock", net.JoinHostPort(f.host, strconv.Itoa(f.devPort)))
	printf("  %-11s %s", "nats", natsURL)
	if os.Getenv("NATS_URL") == "" {
		printf("   monitoring http://%s\n", net.JoinHostPort(f.host, strconv.Itoa(f.natsMonitorPort)))
	} else {
		printf("\n")
	}
	if pg != nil {
		printf("  %-11s %s   (databases intake, scheduling, billing, followup)\n", "postgres", pg.DSN("intake"))
	}
	printf("dev tokens (also in %s):\n", tokensFile)
	roles := make([]string, 0, len(tokens))
	for r := range tokens {
		roles = append(roles, string(r))
	}
	sort.Strings(roles)
	for _, r := range roles {
		printf("  %-11s %s\n", r, tokens[httpx.Role(r)][0])
	}
	printf("try: curl -s -H \"Authorization: Bearer $CLINICOPS_TOKEN_FRONT_DESK\" http://%s/readyz\n", rts[0].Addr())
}

// loadOrCreateDevTokens keeps one token per role in path
// (CLINICOPS_TOKEN_<ROLE>=...), creating missing ones, so tokens stay the
// same across runs.
// readDevTokens reads the token file `clinicops dev` writes, one token per
// role (os.ErrNotExist when there is none).
func readDevTokens(path string) (map[httpx.Role]string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = fh.Close() }()
	tokens := map[httpx.Role]string{}
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok || !strings.HasPrefix(k, "CLINICOPS_TOKEN_") || v == "" {
			continue
		}
		role, err := httpx.ParseRole(strings.ToLower(strings.TrimPrefix(k, "CLINICOPS_TOKEN_")))
		if err == nil {
			tokens[role] = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return tokens, nil
}

func loadOrCreateDevTokens(path string) (map[httpx.Role][]string, error) {
	tokens := map[httpx.Role][]string{}
	read, err := readDevTokens(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for r, t := range read {
		tokens[r] = []string{t}
	}
	var b strings.Builder
	b.WriteString("# clinicops dev tokens, one per role: source this file to use them.\n")
	for _, r := range httpx.Roles() {
		if len(tokens[r]) == 0 {
			tokens[r] = []string{httpx.GenerateToken()}
		}
		fmt.Fprintf(&b, "CLINICOPS_TOKEN_%s=%s\n", strings.ToUpper(string(r)), tokens[r][0])
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return tokens, nil
}

// devCheckInLinks is the environment of follow-up under `clinicops dev`:
// unless set, check-in links point at its own address and are signed with
// a secret kept in the data directory, so links sent before a restart
// still open after it.
func devCheckInLinks(dataDir, addr string) (func(string) string, error) {
	path := filepath.Join(dataDir, "checkin-link.secret")
	secret, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		secret = []byte(hex.EncodeToString(b))
		err = os.WriteFile(path, secret, 0o600)
	}
	if err != nil {
		return nil, fmt.Errorf("check-in link secret: %w", err)
	}
	defaults := map[string]string{
		"FOLLOWUP_CHECKIN_LINK_SECRET": strings.TrimSpace(string(secret)),
		"FOLLOWUP_CHECKIN_LINK_BASE":   "http://" + addr + "/v1/check-in-links/",
	}
	return func(k string) string {
		if v := os.Getenv(k); v != "" {
			return v
		}
		return defaults[k]
	}, nil
}
