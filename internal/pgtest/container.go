package pgtest

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tcexec "github.com/testcontainers/testcontainers-go/exec"
	"github.com/testcontainers/testcontainers-go/wait"
)

// containerLifetime stops a test container by itself if the test process dies without
// terminating it: with Ryuk disabled nothing else would.
const containerLifetime = 2 * time.Hour

// ContainerLabel marks every container pgtest starts, so stale ones can be found and removed
// (`docker rm -f $(docker ps -aq --filter label=org.bookedbarber.pgtune.test)`).
const ContainerLabel = "org.bookedbarber.pgtune.test"

// prepareTestcontainersEnv sets what testcontainers-go needs where no registry is reachable. It
// reads its configuration once, so this runs before the first call into it.
func prepareTestcontainersEnv() {
	// Ryuk, the reaper, is an image pulled from a registry; only the literal "true" disables it.
	if _, ok := os.LookupEnv("TESTCONTAINERS_RYUK_DISABLED"); !ok {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	// Inside a container testcontainers-go would aim at the default gateway; tests only ever talk
	// to loopback, where Docker publishes the ports.
	if _, ok := os.LookupEnv("TESTCONTAINERS_HOST_OVERRIDE"); !ok {
		os.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")
	}
}

// logBuffer collects testcontainers-go's chatter; it is shown only when a start fails.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Printf(format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(&l.buf, format, v...)
	l.buf.WriteByte('\n')
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// dockerEngineAnswers reports whether a Docker engine responds.
func dockerEngineAnswers(ctx context.Context) bool {
	ok, _ := checkDocker(ctx, "")
	return ok
}

// checkDocker reports whether a Docker engine responds and, with img, holds that image.
// It recovers from the panics some testcontainers-go paths raise when no engine is configured.
func checkDocker(ctx context.Context, img string) (ok bool, reason string) {
	prepareTestcontainersEnv()
	defer func() {
		if r := recover(); r != nil {
			ok, reason = false, fmt.Sprintf("no Docker engine (%v)", r)
		}
	}()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return false, fmt.Sprintf("no Docker engine: %v", err)
	}
	defer cli.Close()
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return false, fmt.Sprintf("Docker engine does not answer: %v", err)
	}
	if img == "" {
		return true, ""
	}
	if _, err := cli.ImageInspect(ctx, img); err != nil {
		if errdefs.IsNotFound(err) {
			return false, fmt.Sprintf("image %s not found; build it with: bash testdata/pgimage/build.sh %s", img, majorOfImage(img))
		}
		return false, fmt.Sprintf("inspect image %s: %v", img, err)
	}
	return true, ""
}

// majorOfImage is the major in a pgtune-test-pg:MAJOR-HASH tag ("" for another image).
func majorOfImage(img string) string {
	_, tag, _ := strings.Cut(img, ":")
	m, _, _ := strings.Cut(tag, "-")
	return m
}

func startContainer(ctx context.Context, major int) (*Server, error) {
	img := imageFor(major)
	if ok, reason := checkDocker(ctx, img); !ok {
		return nil, unavailable("%s", reason)
	}
	logs := &logBuffer{}
	ctr, err := testcontainers.Run(ctx, img,
		testcontainers.WithLogger(logs),
		testcontainers.WithExposedPorts("5432/tcp"),
		testcontainers.WithEnv(map[string]string{
			"PGTUNE_LIFETIME_SECONDS": fmt.Sprint(int(containerLifetime.Seconds())),
		}),
		testcontainers.WithLabels(map[string]string{ContainerLabel: "true"}),
		// Docker's default /dev/shm (64 MB) is too small for PostgreSQL's dynamic shared memory
		// (parallel VACUUM and index builds on large tables fail with "No space left on device").
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) { hc.ShmSize = 1 << 30 }),
		testcontainers.WithWaitStrategyAndDeadline(startTimeout,
			wait.ForLog("database system is ready to accept connections"),
			wait.ForListeningPort("5432/tcp"),
		),
	)
	if err != nil {
		if ctr != nil {
			_ = testcontainers.TerminateContainer(ctr)
		}
		return nil, fmt.Errorf("start %s: %w\n%s", img, err, tail(logs.String(), 20))
	}
	endpoint, err := ctr.PortEndpoint(ctx, "5432/tcp", "")
	if err != nil {
		_ = testcontainers.TerminateContainer(ctr)
		return nil, fmt.Errorf("find the published port of %s: %w", img, err)
	}
	srv := &Server{
		Backend:  BackendContainer,
		AdminDSN: "postgres://postgres@" + endpoint + "/postgres?sslmode=disable",
		Detail:   "image " + img + ", container " + shortID(ctr.GetContainerID()),
		stop: func(ctx context.Context) error {
			return ctr.Terminate(ctx)
		},
		innerDSN: func(db string) string {
			return "postgres://postgres@127.0.0.1:5432/" + url.PathEscape(db) + "?sslmode=disable"
		},
		client: func(ctx context.Context, argv []string) ([]byte, error) {
			code, r, err := ctr.Exec(ctx, argv, tcexec.WithUser("postgres"))
			if err != nil {
				return nil, fmt.Errorf("exec %s: %w", argv[0], err)
			}
			var stdout, stderr bytes.Buffer
			if _, err := stdcopy.StdCopy(&stdout, &stderr, r); err != nil {
				return nil, fmt.Errorf("read %s's output: %w", argv[0], err)
			}
			if code != 0 {
				return stdout.Bytes(), fmt.Errorf("%s exited with %d: %s", argv[0], code, tail(stderr.String(), 20))
			}
			return stdout.Bytes(), nil
		},
	}
	// The log line can precede the socket being reachable through the published port.
	conn, err := connectRetry(ctx, srv.AdminDSN)
	if err != nil {
		_ = testcontainers.TerminateContainer(ctr)
		return nil, err
	}
	conn.Close(ctx)
	return srv, nil
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
