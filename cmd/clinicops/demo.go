package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/clinicops/clinicops/cmd/clinicops/internal/journey"
	"github.com/clinicops/clinicops/pkg/httpx"
)

type demoFlags struct {
	path            string
	dataDir         string
	host            string
	basePort        int
	devPort         int
	natsMonitorPort int
}

// runDemo walks one patient through a journey against a running `clinicops
// dev` (make run), over the services' public APIs with the dev tokens,
// printing each step and how long the events took to arrive where they
// were needed; then it checks the invariants across the services and fails
// if one does not hold. Time is driven through the dev clock (/dev/clock):
// the 14-day culture and the months between cycles pass at once. The
// service binaries have no such clock.
func runDemo(ctx context.Context, args []string, out io.Writer) error {
	var f demoFlags
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.StringVar(&f.path, "path", "happy", "the journey: "+strings.Join(journey.Paths, ", "))
	fs.StringVar(&f.dataDir, "data-dir", ".data", "the data directory of the running `clinicops dev` (its dev-tokens.env)")
	fs.StringVar(&f.host, "host", "127.0.0.1", "where `clinicops dev` listens")
	fs.IntVar(&f.basePort, "base-port", 8081, "intake's port; scheduling, billing and followup take the next three")
	fs.IntVar(&f.devPort, "dev-port", 8080, "the dev clock's port")
	fs.IntVar(&f.natsMonitorPort, "nats-monitor-port", 8222, "NATS monitoring port (durable consumers and the DLQ)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	d, err := devDriver(f.dataDir, f.host, f.basePort)
	if err != nil {
		return err
	}
	url := func(port int) string { return "http://" + net.JoinHostPort(f.host, strconv.Itoa(port)) }
	d.Timeout = 30 * time.Second
	d.Clock = journey.DevEndpoint{URL: url(f.devPort) + "/dev/clock", AdminToken: d.Tokens[httpx.RoleAdmin], HTTP: d.HTTP}
	d.OnWait = func(w journey.Wait) {
		printf(out, "               %-78s %8s\n", "↳ "+w.What, w.Took.Round(time.Millisecond))
	}
	return demo(ctx, d, f.path, url(f.natsMonitorPort), out)
}

// devDriver drives the services of a running `clinicops dev` with its dev
// tokens (no clock: the caller sets one if it moves time).
func devDriver(dataDir, host string, basePort int) (*journey.Driver, error) {
	tokens, err := readDevTokens(filepath.Join(dataDir, "dev-tokens.env"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no dev tokens in %s: start the system first (make run, in another terminal)", dataDir)
	}
	if err != nil {
		return nil, err
	}
	url := func(port int) string { return "http://" + net.JoinHostPort(host, strconv.Itoa(port)) }
	return &journey.Driver{HTTP: &http.Client{Timeout: 10 * time.Second}, Intake: url(basePort), Scheduling: url(basePort + 1),
		Billing: url(basePort + 2), Followup: url(basePort + 3), Tokens: tokens}, nil
}

// demo walks the path and checks the invariants; it is what the end-to-end
// suite runs too.
func demo(ctx context.Context, d *journey.Driver, path, natsMonitor string, out io.Writer) error {
	started := time.Now()
	printf(out, "clinicops demo: the %s path, one patient, through the public APIs (%s)\n", path, d.Intake)
	printf(out, "  %-12s %-78s %8s\n", "service", "who did what (then: the events arriving where they were needed)", "took")
	outcome, err := d.Walk(ctx, path, "甲", func(s journey.Step) {
		printf(out, "  %-12s %-78s %8s\n", s.Service, s.What, s.Took.Round(time.Millisecond))
	})
	if err != nil {
		return fmt.Errorf("the %s path stopped: %w", path, err)
	}
	printf(out, "patient %s, course %s: walked in %s\n", outcome.Patient.ID, outcome.Patient.CourseID, time.Since(started).Round(time.Millisecond))
	printf(out, "invariants:\n")
	failed := 0
	for _, c := range d.Invariants(ctx, outcome, natsMonitor) {
		if c.Err != nil {
			failed++
			printf(out, "  FAIL %s: %v\n", c.Name, c.Err)
			continue
		}
		printf(out, "  ok   %s\n", c.Name)
	}
	printf(out, "the whole story: clinicops course %s\n", outcome.Patient.CourseID)
	if failed > 0 {
		return fmt.Errorf("%d invariant(s) do not hold", failed)
	}
	return nil
}

// printf writes to a terminal: a failed write there is not worth failing
// the command for.
func printf(out io.Writer, format string, args ...any) { _, _ = fmt.Fprintf(out, format, args...) }
