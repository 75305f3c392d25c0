// Command clinicops is the one binary for people: `dev` runs the whole
// system in one process (embedded NATS, a local PostgreSQL under .data/,
// all four services), `dlq` lists and replays dead letters,
// `billing-export` writes billing's postings to a CSV journal.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: clinicops <command> [flags]

commands:
  dev          run the whole system in one process (what make run runs)
  dlq list     list dead-lettered messages
  dlq replay   republish dead letters to their original subjects
  billing-export
               append billing's postings to a CSV journal (-out, -durable, -nats, -once)
  demo         walk one patient through the four services against make run
               (-path happy, culture-failed, cancelled or consent-withdrawn)
  course <id>  print a course's whole story, from each service's API

Run "clinicops <command> -h" for its flags.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "dev":
		err = runDev(ctx, os.Args[2:], os.Stdout)
	case "dlq":
		err = runDLQ(ctx, os.Args[2:], os.Stdout)
	case "billing-export":
		err = runBillingExport(ctx, os.Args[2:], os.Stdout)
	case "demo":
		err = runDemo(ctx, os.Args[2:], os.Stdout)
	case "course":
		err = runCourse(ctx, os.Args[2:], os.Stdout)
	case "-h", "--help", "help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "clinicops:", err)
		os.Exit(1)
	}
}
