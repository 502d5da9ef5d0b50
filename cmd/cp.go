package cmd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/den-project/den/runtime"
	"github.com/urfave/cli/v2"
	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/chrootarchive"
	"go.podman.io/storage/pkg/idtools"
	"golang.org/x/term"
)

// copyArg is one side of den cp: a host path, "-" for a tar stream, or CONTAINER:PATH.
type copyArg struct {
	container, path string
}

// parseCopyArg tells CONTAINER:PATH from a host path: a path that starts with / or . is the
// host's, as in podman.
func parseCopyArg(s string) copyArg {
	if s == "-" || strings.HasPrefix(s, "/") || strings.HasPrefix(s, ".") {
		return copyArg{path: s}
	}
	if ctr, p, ok := strings.Cut(s, ":"); ok && ctr != "" {
		return copyArg{container: ctr, path: p}
	}
	return copyArg{path: s}
}

// contentsOf reports whether p asks for a directory's content (ends in /.).
func contentsOf(p string) bool { return strings.HasSuffix(p, "/.") || p == "." }

func cpCmd() *cli.Command {
	return &cli.Command{
		Name:      "cp",
		Usage:     "copy files between a container and the host",
		ArgsUsage: "CONTAINER:SRC DEST | SRC CONTAINER:DEST",
		Description: `Copies a file or directory out of or into a container, running or not, with
podman's path rules: DEST names the copy unless it is an existing directory, which then
receives it; SRC/. copies a directory's content. "-" as DEST writes a tar archive to
stdout, "-" as SRC unpacks one from stdin. Paths inside the container never lead out of it,
whatever its symlinks say. Copies into a container belong to its user.

Examples:
   den cp web:/etc/nginx/nginx.conf .
   den cp ./site/. web:/usr/share/nginx/html
   den cp web:/var/log - | tar t`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "archive", Aliases: []string{"a"}, Value: true, Usage: "give copies into the container to its user"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return withCode(125, errors.New("want a source and a destination: den cp CONTAINER:SRC DEST or den cp SRC CONTAINER:DEST"))
			}
			src, dst := parseCopyArg(c.Args().Get(0)), parseCopyArg(c.Args().Get(1))
			switch {
			case src.container != "" && dst.container != "":
				return withCode(125, errors.New("copying between containers is not supported: copy to the host first"))
			case src.container == "" && dst.container == "":
				return withCode(125, fmt.Errorf("one of %q and %q must be CONTAINER:PATH", c.Args().Get(0), c.Args().Get(1)))
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			if src.container != "" {
				err = copyOut(c, e.rt, src, dst.path)
			} else {
				err = copyIn(c, e.rt, src.path, dst)
			}
			if err != nil {
				return withCode(125, err)
			}
			return nil
		},
	}
}

// copyOut copies CONTAINER:SRC to a host path or to stdout.
func copyOut(c *cli.Context, rt *runtime.Runtime, src copyArg, dest string) error {
	spec := runtime.CopySpec{Path: src.path, Contents: contentsOf(src.path)}
	if dest == "-" {
		if f, ok := c.App.Writer.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			return errors.New("refusing to write a tar archive to a terminal: redirect stdout")
		}
		return rt.CopyFromContainer(src.container, spec, c.App.Writer)
	}
	into := dest
	st, err := os.Stat(dest)
	switch {
	case err == nil && st.IsDir():
	case spec.Contents:
		if err := os.MkdirAll(dest, 0o755); err != nil {
			return err
		}
	case err == nil || os.IsNotExist(err):
		if strings.HasSuffix(dest, "/") {
			return fmt.Errorf("destination directory %s does not exist", dest)
		}
		if src.path == "/" || path.Base(path.Clean("/"+src.path)) == "/" {
			return fmt.Errorf("copying the container's / needs a directory as destination")
		}
		// The copy takes the destination's name, in the directory above it.
		into, spec.Rename = filepath.Dir(dest), filepath.Base(dest)
		if _, err := os.Stat(into); err != nil {
			return fmt.Errorf("destination directory %s does not exist", into)
		}
	default:
		return err
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		// The stream comes from the container: unpack it chrooted into the destination so
		// its links cannot lead anywhere else, owned by the user running den.
		err := chrootarchive.Untar(pr, into, &archive.TarOptions{ChownOpts: &idtools.IDPair{UID: 0, GID: 0}, InUserNS: true, NoOverwriteDirNonDir: true})
		pr.CloseWithError(err)
		done <- err
	}()
	err = rt.CopyFromContainer(src.container, spec, pw)
	pw.CloseWithError(err)
	if uerr := <-done; err == nil {
		err = uerr
	}
	return err
}

// copyIn copies a host path, or a tar stream on stdin, to CONTAINER:DEST.
func copyIn(c *cli.Context, rt *runtime.Runtime, src string, dest copyArg) error {
	keep := !c.Bool("archive")
	if src == "-" {
		return rt.CopyToContainer(dest.container, runtime.CopySpec{Path: dest.path, KeepOwners: keep}, os.Stdin)
	}
	st, err := os.Lstat(src)
	if err != nil {
		return fmt.Errorf("copy source %s: %w", src, errors.Unwrap(err))
	}
	at, err := rt.StatInContainer(dest.container, dest.path)
	if err != nil {
		return err
	}
	spec := runtime.CopySpec{Path: dest.path, KeepOwners: keep}
	dir, opts := filepath.Dir(filepath.Clean(src)), &archive.TarOptions{IncludeFiles: []string{filepath.Base(filepath.Clean(src))}}
	switch {
	case contentsOf(src) && at.Exists && at.IsDir:
		dir, opts = filepath.Clean(src), &archive.TarOptions{}
	case at.Exists && at.IsDir:
	case at.Exists && st.IsDir():
		return fmt.Errorf("cannot copy directory %s onto file %s in the container", src, dest.path)
	case strings.HasSuffix(dest.path, "/"):
		return fmt.Errorf("destination directory %s does not exist in the container", dest.path)
	default:
		// A new name, or a file replaced: the copy goes into the directory above.
		spec.Path = path.Dir(path.Clean("/" + dest.path))
		opts.RebaseNames = map[string]string{filepath.Base(filepath.Clean(src)): path.Base(path.Clean("/" + dest.path))}
	}
	rd, err := archive.TarWithOptions(dir, opts)
	if err != nil {
		return err
	}
	defer rd.Close()
	return rt.CopyToContainer(dest.container, spec, rd)
}
