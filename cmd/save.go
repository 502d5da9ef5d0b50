package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/den-project/den/store/image"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

// output is where save and export write: the -o file, or standard output when that is not a
// terminal (podman refuses to write an archive to one).
type output struct {
	w    io.Writer
	file *os.File
	path string
}

func openOutput(c *cli.Context, path, verb string) (*output, error) {
	if path != "" {
		f, err := os.Create(path)
		if err != nil {
			return nil, withCode(125, fmt.Errorf("creating %s: %w", path, err))
		}
		return &output{w: f, file: f, path: path}, nil
	}
	if f, ok := c.App.Writer.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return nil, withCode(125, fmt.Errorf("refusing to %s to a terminal: use -o FILE or redirect standard output", verb))
	}
	return &output{w: c.App.Writer}, nil
}

// close finishes the output; after a failure it removes the file it created.
func (o *output) close(failed bool) error {
	if o.file == nil {
		return nil
	}
	err := o.file.Close()
	if failed {
		os.Remove(o.path)
	}
	return err
}

func saveCmd() *cli.Command {
	return &cli.Command{
		Name:      "save",
		Usage:     "write images to an archive or a directory",
		ArgsUsage: "IMAGE...",
		Description: `Writes an image as a docker-archive (the default), an oci-archive, an oci-dir or a
docker-dir, to -o or, for the archives, to standard output when it is not a terminal. With
-m, a docker-archive holds every image named; without it, names after the first are more
names for the first image. den load reads every format back.

Examples:
   den save -o busybox.tar busybox
   den save --format oci-archive busybox > busybox-oci.tar
   den save --format oci-dir -o busybox-dir busybox
   den save -m -o both.tar busybox tool`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to this file or directory instead of stdout"},
			&cli.StringFlag{Name: "format", Usage: "docker-archive, oci-archive, oci-dir or docker-dir", Value: string(image.FormatDockerArchive)},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "do not print progress"},
			&cli.BoolFlag{Name: "multi-image-archive", Aliases: []string{"m"}, Usage: "put every image named into one docker-archive"},
			&cli.BoolFlag{Name: "compress", Usage: "accepted for podman's sake: layers are written as stored"},
		},
		UseShortOptionHandling: true,
		Action:                 saveAction,
	}
}

func exportCmd() *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "write a container's root filesystem as a tar archive",
		ArgsUsage: "CONTAINER",
		Description: `Writes the container's whole root filesystem, its image's files and its own
changes, as one tar to -o or to standard output when it is not a terminal. den import makes
an image of it again.

Examples:
   den export -o web.tar web
   den export web | tar -t`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to this file instead of stdout"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return withCode(125, errors.New("den export takes exactly one container"))
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			defer e.rt.Close()
			if _, err := e.rt.Lookup(c.Args().First()); err != nil {
				return withCode(125, err)
			}
			out, err := openOutput(c, c.String("output"), "export")
			if err != nil {
				return err
			}
			err = e.rt.Export(context.Background(), c.Args().First(), out.w)
			if cerr := out.close(err != nil); err == nil {
				err = cerr
			}
			return withCode(125, err)
		},
	}
}
