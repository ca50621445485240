package cli

import (
	"context"
	"runtime"
	"runtime/debug"

	"github.com/bookedbarber/pgtune/internal/report"
)

// version is set at release time: go build -ldflags "-X github.com/bookedbarber/pgtune/internal/cli.version=v1.2.3".
var version = ""

// Version returns pgtune's version: the release version, else the module version `go install`
// recorded, else "devel" plus the VCS revision the binary was built from.
func Version() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	v := "devel"
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" {
		v += "+" + rev
		if modified == "true" {
			v += "-dirty"
		}
	}
	return v
}

var versionCmd = &command{
	name:    "version",
	summary: "print pgtune's version",
	help: `Usage: pgtune version [flags]

Prints pgtune's version, and the Go version it was built with.
`,
	run: runVersion,
}

type versionInfo struct {
	Version   string `json:"version"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
}

func runVersion(_ context.Context, cmd *command, e *env, args []string) error {
	fs := newFlagSet(cmd, e).withOutput()
	if err := fs.parse(args, false); err != nil {
		return err
	}
	info := versionInfo{Version: Version(), GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if fs.output() == report.FormatTable {
		// The plain form scripts expect from `--version`.
		_, err := e.stdout.Write([]byte("pgtune " + info.Version + " (" + info.GoVersion + ", " + info.Platform + ")\n"))
		return err
	}
	return fs.write(info, report.Table{Columns: []string{"version", "go", "platform"}, Rows: [][]string{{info.Version, info.GoVersion, info.Platform}}})
}
