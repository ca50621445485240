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

// runAs is the account the scratch server runs as when pgtune runs as root (PostgreSQL refuses
// root), with its groups; nil when pgtune is not root (the server runs as pgtune's own user).
// osUser names it; empty means the owner of the WAL archive's segments (the database's own OS
// user wrote them, and may have kept them 0600), else postgres.
func runAs(osUser, archive string) (*osAccount, error) {
	if os.Geteuid() != 0 {
		if osUser != "" {
			if u, err := user.Current(); err != nil || u.Username != osUser {
				return nil, fmt.Errorf("--os-user %s needs pgtune to run as root (it runs the scratch server as that user); run it as %s, or as root", osUser, osUser)
			}
		}
		return nil, nil
	}
	var u *user.User
	var err error
	how := "--os-user"
	switch {
	case osUser != "":
		if u, err = user.Lookup(osUser); err != nil {
			return nil, fmt.Errorf("--os-user %s: no such OS user", osUser)
		}
	default:
		if uid, ok := archiveOwner(archive); ok && uid != 0 {
			if u, err = user.LookupId(strconv.Itoa(int(uid))); err != nil {
				return nil, fmt.Errorf("the WAL archive's files belong to uid %d, which has no user name (PostgreSQL needs one to run as): pass --os-user", uid)
			}
			how = "the WAL archive's owner"
			break
		}
		if u, err = user.Lookup("postgres"); err != nil {
			return nil, errors.New("running as root and no postgres user to run the scratch server as: pass --os-user, create one, or run pgtune as an unprivileged user")
		}
		how = "the default"
	}
	if u.Uid == "0" {
		return nil, fmt.Errorf("--os-user %s is root, which PostgreSQL refuses to run as: name another user", u.Username)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	acct := &osAccount{Name: u.Username, How: how, Cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, groups: map[uint32]bool{uint32(gid): true}}
	if ids, err := u.GroupIds(); err == nil {
		for _, g := range ids {
			if n, err := strconv.Atoi(g); err == nil {
				acct.groups[uint32(n)] = true
			}
		}
	}
	return acct, nil
}

// CheckOSUser tells, before any work, whether the scratch server can run as the OS user name:
// it exists, is not root, and pgtune runs as root (or already as that user).
func CheckOSUser(name string) error {
	_, err := runAs(name, "")
	return err
}

// osAccount is the OS user the scratch server (and its restore_command) runs as.
type osAccount struct {
	Name string
	// How says why this user: --os-user, the WAL archive's owner, or the default.
	How    string
	Cred   *syscall.Credential
	groups map[uint32]bool
}

// cred is nil-safe: no account, no credential (pgtune's own user).
func (a *osAccount) cred() *syscall.Credential {
	if a == nil {
		return nil
	}
	return a.Cred
}

// archiveOwner is the owner of the archive's first WAL segment.
func archiveOwner(dir string) (uint32, bool) {
	if dir == "" {
		return 0, false
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, false
	}
	for _, e := range entries {
		if len(e.Name()) != 24 {
			continue
		}
		if info, err := e.Info(); err == nil {
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				return st.Uid, true
			}
		}
	}
	return 0, false
}

// canRead tells whether the account may read path (and search every directory above it), from
// the files' owners and modes: the check the kernel makes (ACLs aside).
func (a *osAccount) canRead(path string) (bool, string) {
	if a == nil {
		f, err := os.Open(path)
		if err != nil {
			return false, err.Error()
		}
		f.Close()
		return true, ""
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return false, err.Error()
	}
	may := func(p string, bits os.FileMode) (bool, string) {
		info, err := os.Stat(p)
		if err != nil {
			return false, err.Error()
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if !ok {
			return true, ""
		}
		m := info.Mode().Perm()
		switch {
		case st.Uid == a.Cred.Uid:
			if m&(bits<<6) != 0 {
				return true, ""
			}
		case a.groups[st.Gid]:
			if m&(bits<<3) != 0 {
				return true, ""
			}
		default:
			if m&bits != 0 {
				return true, ""
			}
		}
		owner := strconv.Itoa(int(st.Uid))
		if u, err := user.LookupId(owner); err == nil {
			owner = u.Username
		}
		return false, fmt.Sprintf("%s is owned by %s, mode %04o", p, owner, m)
	}
	for dir := filepath.Dir(abs); ; dir = filepath.Dir(dir) {
		if ok, why := may(dir, 0o1); !ok {
			return false, why
		}
		if dir == "/" || dir == "." {
			break
		}
	}
	return may(abs, 0o4)
}

// chownTree hands a directory tree to cred's user.
func chownTree(dir string, acct *osAccount) error {
	cred := acct.cred()
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
			if err == nil {
				return errors.New("the server stopped during recovery (it exited normally)")
			}
			return fmt.Errorf("the server stopped during recovery (%w)", err)
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
