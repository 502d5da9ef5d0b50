package cmd

import (
	"encoding/json"
	"fmt"
	"os"
	goruntime "runtime"
	"text/template"

	"github.com/urfave/cli/v2"
	"go.yaml.in/yaml/v3"
)

// versionInfo is what `den version` reports, with podman's field names.
type versionInfo struct {
	Version   string `json:"Version" yaml:"Version"`
	GoVersion string `json:"GoVersion" yaml:"GoVersion"`
	OsArch    string `json:"OsArch" yaml:"OsArch"`
	Os        string `json:"Os" yaml:"Os"`
}

func versionCmd() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "show den's version",
		Description: `Examples:
   den version
   den version --format '{{.Version}}'`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Usage: "Go template or \"json\""},
		},
		Action: func(c *cli.Context) error {
			v := versionInfo{Version: Version, GoVersion: goruntime.Version(), OsArch: goruntime.GOOS + "/" + goruntime.GOARCH, Os: goruntime.GOOS}
			switch f := c.String("format"); f {
			case "":
				fmt.Fprintf(c.App.Writer, "Version:      %s\nGo Version:   %s\nOS/Arch:      %s\n", v.Version, v.GoVersion, v.OsArch)
				return nil
			default:
				return printOne(c, f, v)
			}
		},
	}
}

// printOne renders a single value: "json", or a Go template.
func printOne(c *cli.Context, format string, v any) error {
	if format == "json" {
		b, err := json.MarshalIndent(v, "", "    ")
		if err != nil {
			return err
		}
		fmt.Fprintln(c.App.Writer, string(b))
		return nil
	}
	tmpl, err := template.New("format").Funcs(templateFuncs).Parse(format)
	if err != nil {
		return withCode(125, fmt.Errorf("--format %q: %w", format, err))
	}
	if err := tmpl.Execute(c.App.Writer, v); err != nil {
		return withCode(125, fmt.Errorf("--format: %w", err))
	}
	fmt.Fprintln(c.App.Writer)
	return nil
}

func infoCmd() *cli.Command {
	return &cli.Command{
		Name:  "info",
		Usage: "show how den is set up on this host",
		Description: `Shows the kernel, the storage driver and overlay mode, the subordinate id ranges,
the paths den uses and the helpers it found. Read-only: it enters no namespace.

Examples:
   den info
   den info --format '{{.Store.GraphDriverName}}'
   den info --format json`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Usage: "Go template or \"json\""},
		},
		Action: func(c *cli.Context) error {
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			info := e.rt.Info(Version)
			if f := c.String("format"); f != "" {
				return printOne(c, f, info)
			}
			b, err := yaml.Marshal(info)
			if err != nil {
				return err
			}
			_, err = os.Stdout.Write(b)
			return err
		},
	}
}
