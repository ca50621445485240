package pitr

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// BinDir finds the server binaries of a major: /usr/lib/postgresql/<major>/bin (Debian, Ubuntu),
// /usr/pgsql-<major>/bin (RHEL), or pg_config --bindir when it reports that major.
func BinDir(major int) (string, error) {
	for _, d := range []string{fmt.Sprintf("/usr/lib/postgresql/%d/bin", major), fmt.Sprintf("/usr/pgsql-%d/bin", major)} {
		if exists(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		d := string(out[:len(out)-1])
		if v, err := exec.Command(filepath.Join(d, "postgres"), "--version").Output(); err == nil &&
			regexp.MustCompile(fmt.Sprintf(`\) %d[.\s]`, major)).Match(v) {
			return d, nil
		}
	}
	return "", fmt.Errorf("no PostgreSQL %d server binaries (postgres, pg_verifybackup) found: install postgresql-%d, or give --pg-bin", major, major)
}

// runAs is the account the scratch server runs as: PostgreSQL refuses root.
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, errors.New("running as root and no postgres user to run the scratch server as: create one, or run pgtune as an unprivileged user")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// chownTree hands a directory tree to cred's user.
func chownTree(dir string, cred *syscall.Credential) error {
	if cred == nil {
		return nil
	}
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(cred.Uid), int(cred.Gid))
	})
}

// freePort is a TCP port number nobody listens on, for the Unix socket's name (the scratch server
// listens on no TCP address at all).
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// server is the scratch server.
type server struct {
	cmd     *exec.Cmd
	exited  chan error
	dataDir string
	sockDir string
	port    int
	logPath string
}

func (s *server) dsn(user, db string) string {
	return fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable connect_timeout=5", s.sockDir, s.port, user, db)
}

// start runs postgres on dataDir as cred, logging to logPath.
func start(binDir, dataDir, sockDir string, port int, logPath string, cred *syscall.Credential, settings []string) (*server, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	args := []string{"-D", dataDir}
	for _, s := range settings {
		args = append(args, "-c", s)
	}
	cmd := exec.Command(filepath.Join(binDir, "postgres"), args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own process group, and killed with us if pgtune dies without stopping it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	s := &server{cmd: cmd, exited: make(chan error, 1), dataDir: dataDir, sockDir: sockDir, port: port, logPath: logPath}
	go func() { s.exited <- cmd.Wait(); logFile.Close() }()
	return s, nil
}

// stop shuts the server down (fast, then immediate, then kill) and waits for it.
func (s *server) stop() {
	if s == nil || s.cmd.Process == nil {
		return
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGQUIT, syscall.SIGKILL} {
		_ = s.cmd.Process.Signal(sig)
		select {
		case <-s.exited:
			s.exited <- nil // for a second stop
			return
		case <-time.After(10 * time.Second):
		}
	}
}

// waitPromoted waits until the server accepts connections out of recovery, exits, or ctx ends.
func (s *server) waitPromoted(ctx context.Context, user string) error {
	for {
		select {
		case err := <-s.exited:
			s.exited <- err
			return fmt.Errorf("the server stopped during recovery (%v)", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		c, err := pgx.Connect(ctx, s.dsn(user, "postgres"))
		if err != nil {
			continue
		}
		var inRecovery bool
		err = c.QueryRow(ctx, "SELECT pg_catalog.pg_is_in_recovery()").Scan(&inRecovery)
		c.Close(context.Background())
		if err == nil && !inRecovery {
			return nil
		}
	}
}

// logLines reads the server's log.
func (s *server) logLines() []string {
	f, err := os.Open(s.logPath)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}
