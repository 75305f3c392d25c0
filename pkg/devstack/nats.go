package devstack

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

const natsReadyTimeout = 10 * time.Second

// NATSOptions configures StartNATS. The zero value starts a throwaway
// JetStream server on a random port.
type NATSOptions struct {
	// StoreDir is the JetStream store. Empty means a temporary directory,
	// removed by Shutdown. Always set one in long-lived setups: the server's
	// default is shared by every process on the machine.
	StoreDir string
	// Host is the address to listen on. Default 127.0.0.1.
	Host string
	// Port is the client port. 0 picks a random free one; Restart keeps it.
	Port int
	// HTTPPort is the monitoring port (/varz, /jsz). 0 disables it; -1 picks
	// a random one.
	HTTPPort int
	// Logger receives lifecycle events and the server's warnings and errors
	// (its notices at debug level). Default slog.Default().
	Logger *slog.Logger
}

// NATS is an embedded nats-server with JetStream. Its methods are safe for
// concurrent use.
type NATS struct {
	log       *slog.Logger
	host      string
	httpPort  int
	storeDir  string
	tempStore bool
	port      int // fixed once StartNATS returns
	name      string

	mu     sync.Mutex
	srv    *server.Server
	closed bool
}

// StartNATS starts an in-process nats-server with JetStream (NoSigs: signals
// stay ours) and returns once it accepts connections (at most 10 s).
func StartNATS(opts NATSOptions) (*NATS, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "devstack.nats")
	n := &NATS{log: log, host: opts.Host, httpPort: opts.HTTPPort}
	if n.host == "" {
		n.host = defaultHost
	}
	port := opts.Port
	if port == 0 {
		port = server.RANDOM_PORT
	}
	if opts.StoreDir == "" {
		sweepRunDirs(log, os.TempDir(), natsRunDirPrefix)
		dir, err := newRunDir("", natsRunDirPrefix, nil)
		if err != nil {
			return nil, fmt.Errorf("start nats: %w", err)
		}
		n.storeDir, n.tempStore = dir, true
	} else {
		dir, err := filepath.Abs(opts.StoreDir)
		if err != nil {
			return nil, fmt.Errorf("start nats: store dir: %w", err)
		}
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("start nats: store dir: %w", err)
		}
		n.storeDir = dir
	}
	begin := time.Now()
	srv, err := n.start(port)
	if err != nil {
		if n.tempStore {
			_ = os.RemoveAll(n.storeDir)
		}
		return nil, fmt.Errorf("start nats: %w", err)
	}
	n.srv = srv
	n.port = srv.Addr().(*net.TCPAddr).Port
	n.name = srv.Name()
	log.Info("nats started", "url", n.ClientURL(), "store_dir", n.storeDir, "temporary", n.tempStore,
		"start_ms", time.Since(begin).Milliseconds())
	return n, nil
}

// ClientURL is the nats:// URL clients connect to; it stays the same across
// Restart.
func (n *NATS) ClientURL() string {
	return "nats://" + net.JoinHostPort(n.host, strconv.Itoa(n.port))
}

// Server is the running server (for nats.InProcessServer, monitoring, JetStream
// introspection). Restart replaces it: call Server again afterwards.
func (n *NATS) Server() *server.Server {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.srv
}

// StoreDir is the absolute path of the JetStream store.
func (n *NATS) StoreDir() string { return n.storeDir }

// Shutdown stops the server, waits until it has stopped and removes the
// temporary store. Calling it again does nothing.
func (n *NATS) Shutdown() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	n.closed = true
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
		n.srv = nil
	}
	if n.tempStore {
		if err := os.RemoveAll(n.storeDir); err != nil {
			n.log.Warn("could not remove nats store", "store_dir", n.storeDir, "err", err)
		}
	}
	n.log.Info("nats stopped", "port", n.port, "store_removed", n.tempStore)
}

// Restart shuts the server down and starts a new one with the same store,
// client port and server name, like a NATS restart in production: clients see
// a disconnect and reconnect, streams and consumers survive.
func (n *NATS) Restart() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return errors.New("restart nats: already shut down")
	}
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
		n.srv = nil
	}
	begin := time.Now()
	srv, err := n.start(n.port)
	if err != nil {
		return fmt.Errorf("restart nats: %w", err)
	}
	n.srv = srv
	n.log.Info("nats restarted", "url", n.ClientURL(), "start_ms", time.Since(begin).Milliseconds())
	return nil
}

// start creates and starts a server on port and waits until it is ready.
func (n *NATS) start(port int) (*server.Server, error) {
	if port > 0 {
		// Otherwise the server only logs the bind error and we would wait for
		// readiness in vain.
		if err := checkPortFree("nats", n.host, port); err != nil {
			return nil, err
		}
	}
	opts := &server.Options{
		ServerName: n.name,
		Host:       n.host,
		Port:       port,
		JetStream:  true,
		StoreDir:   n.storeDir,
		NoSigs:     true,
	}
	if n.httpPort != 0 {
		opts.HTTPHost = n.host
		opts.HTTPPort = n.httpPort
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, err
	}
	logger := &natsLogger{log: n.log}
	srv.SetLoggerV2(logger, false, false, false)
	srv.Start()
	if !srv.ReadyForConnections(natsReadyTimeout) {
		srv.Shutdown()
		srv.WaitForShutdown()
		msg := "no error logged"
		if last, ok := logger.lastErr.Load().(string); ok {
			msg = last
		}
		return nil, fmt.Errorf("nats-server on %s not ready within %s: %s", net.JoinHostPort(n.host, strconv.Itoa(port)), natsReadyTimeout, msg)
	}
	return srv, nil
}

// natsLogger adapts slog to nats-server's logger. Notices (banner, "Server
// is ready", JetStream limits) go to debug so every test does not print a
// screenful.
type natsLogger struct {
	log     *slog.Logger
	lastErr atomic.Value // string
}

func (l *natsLogger) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Debugf(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Tracef(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }

func (l *natsLogger) Errorf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.lastErr.Store(msg)
	l.log.Error(msg)
}

// Fatalf logs only: nats-server's own logger would exit the process.
func (l *natsLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.lastErr.Store(msg)
	l.log.Error(msg)
}
