//go:build !den_core

package cmd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/den-project/den/store/image"
	"github.com/den-project/den/store/registry"
	"github.com/urfave/cli/v2"
	"go.podman.io/image/v5/types"
	"golang.org/x/term"
)

// The actions of the commands that copy images with containers/image: load, import, save,
// pull, push, login and logout. den's core build leaves them out (see transfer_core.go).

func pullAction(c *cli.Context) error {
	if c.NArg() != 1 {
		return withCode(125, errors.New("den pull needs exactly one IMAGE: see `den pull --help`"))
	}
	x, err := newTransfer(c)
	if err != nil {
		return err
	}
	defer x.close()
	pulled, err := x.im.Pull(x.ctx, c.Args().First(), image.PullOptions{Registry: x.reg, AllTags: c.Bool("all-tags")})
	for _, p := range pulled {
		x.e.rt.PublishImage("pull", p.ID, p.Name)
		fmt.Fprintln(c.App.Writer, p.ID)
	}
	return withCode(125, err)
}

func pushAction(c *cli.Context) error {
	if c.NArg() < 1 || c.NArg() > 2 {
		return withCode(125, errors.New("den push needs IMAGE and optionally a DESTINATION: see `den push --help`"))
	}
	x, err := newTransfer(c)
	if err != nil {
		return err
	}
	defer x.close()
	pushed, err := x.im.Push(x.ctx, c.Args().Get(0), c.Args().Get(1), image.PushOptions{Registry: x.reg, Format: c.String("format")})
	if err != nil {
		return withCode(125, err)
	}
	x.e.rt.PublishImage("push", pushed.ID, c.Args().Get(0))
	if f := c.String("digestfile"); f != "" {
		if err := os.WriteFile(f, []byte(pushed.Digest.String()), 0o644); err != nil {
			return withCode(125, fmt.Errorf("writing --digestfile: %w", err))
		}
	}
	return nil
}

func loginAction(c *cli.Context) error {
	if c.NArg() != 1 {
		return withCode(125, errors.New("den login needs exactly one REGISTRY: see `den login --help`"))
	}
	srv, err := registry.ParseServer(c.Args().First())
	if err != nil {
		return withCode(125, err)
	}
	sys, done, err := authContext(c)
	if err != nil {
		return err
	}
	defer done()
	user, pass := c.String("username"), c.String("password")
	if c.Bool("password-stdin") {
		if pass != "" {
			return withCode(125, errors.New("--password and --password-stdin: give only one"))
		}
		if pass, err = readPasswordStdin(); err != nil {
			return withCode(125, err)
		}
	}
	ctx, stop := interruptible()
	defer stop()
	if user == "" && pass == "" {
		stored, ok, err := registry.CheckStored(ctx, sys, srv)
		if err != nil {
			return withCode(125, err)
		}
		if ok {
			fmt.Fprintf(c.App.Writer, "Authenticating with existing credentials for %s\nExisting credentials are valid. Already logged in to %s\n", srv.Key, srv.Key)
			return nil
		}
		user = stored
	}
	if user, pass, err = askCredentials(c, user, pass); err != nil {
		return withCode(125, err)
	}
	if err := registry.Login(ctx, sys, srv, user, pass); err != nil {
		return withCode(125, err)
	}
	fmt.Fprintln(c.App.Writer, "Login Succeeded!")
	return nil
}

func logoutAction(c *cli.Context) error {
	if c.Bool("all") == (c.NArg() == 1) || c.NArg() > 1 {
		return withCode(125, errors.New("den logout needs one REGISTRY, or -a for all"))
	}
	sys, done, err := authContext(c)
	if err != nil {
		return err
	}
	defer done()
	if c.Bool("all") {
		if err := registry.LogoutAll(sys); err != nil {
			return withCode(125, err)
		}
		fmt.Fprintln(c.App.Writer, "Removed login credentials for all registries")
		return nil
	}
	srv, err := registry.ParseServer(c.Args().First())
	if err != nil {
		return withCode(125, err)
	}
	if err := registry.Logout(sys, srv); err != nil {
		return withCode(125, err)
	}
	fmt.Fprintln(c.App.Writer, "Removed login credentials for "+srv.Key)
	return nil
}

func loadAction(c *cli.Context) error {
	// Ctrl-C stops the load with its spool removed (Go's own handling of it would end den at
	// once, without the deferred removals).
	ctx, stop := interruptible()
	defer stop()
	path := c.String("input")
	if path == "" {
		tmp, err := spoolStdin(ctx)
		if err != nil {
			return withCode(125, err)
		}
		defer os.Remove(tmp)
		path = tmp
	}
	e, im, err := openImages(c, c.Bool("quiet"))
	if err != nil {
		return err
	}
	defer e.rt.Close()
	loaded, err := im.Load(ctx, path)
	if err != nil {
		return withCode(125, err)
	}
	for _, l := range loaded {
		e.rt.PublishImage("load", l.ID, strings.Join(l.Names, ","))
		if len(l.Names) == 0 {
			fmt.Fprintln(c.App.Writer, "Loaded image: sha256:"+l.ID)
		}
		for _, n := range l.Names {
			fmt.Fprintln(c.App.Writer, "Loaded image: "+n)
		}
	}
	return nil
}

func importAction(c *cli.Context) error {
	if c.NArg() < 1 || c.NArg() > 2 {
		return withCode(125, errors.New("den import needs TARBALL and optionally an image name"))
	}
	cfg, err := imageChanges(c.StringSlice("change"))
	if err != nil {
		return err
	}
	name := c.Args().Get(1)
	if err := checkNewNames(name); err != nil {
		return err
	}
	e, im, err := openImages(c, c.Bool("quiet"))
	if err != nil {
		return err
	}
	defer e.rt.Close()
	id, err := im.Import(context.Background(), c.Args().First(), name, cfg)
	if err != nil {
		return withCode(125, err)
	}
	e.rt.PublishImage("import", id, name)
	fmt.Fprintln(c.App.Writer, "sha256:"+id)
	return nil
}

func saveAction(c *cli.Context) error {
	if c.NArg() == 0 {
		return withCode(125, errors.New("no image given: den save [-o FILE] IMAGE..."))
	}
	format, err := image.ParseSaveFormat(c.String("format"))
	if err != nil {
		return withCode(125, err)
	}
	path := c.String("output")
	if format.IsDir() && path == "" {
		return withCode(125, fmt.Errorf("format %s writes a directory: give it with -o DIR", format))
	}
	// Ctrl-C stops the save with its spool removed, as with load.
	ctx, stop := interruptible()
	defer stop()
	var out *output
	if path == "" {
		// Archives are written by random access: spool, then copy to stdout.
		if out, err = openOutput(c, "", "save"); err != nil {
			return err
		}
		tmp, err := os.CreateTemp("", "den-save-*.tar")
		if err != nil {
			return withCode(125, fmt.Errorf("spooling the archive: %w", err))
		}
		tmp.Close()
		path = tmp.Name()
		defer os.Remove(path)
	}
	e, im, err := openImages(c, c.Bool("quiet"))
	if err != nil {
		return err
	}
	defer e.rt.Close()
	saved, err := im.Save(ctx, image.SaveOptions{
		Format: format, Path: path, Images: c.Args().Slice(), Multi: c.Bool("multi-image-archive"),
	})
	if err != nil {
		return withCode(125, err)
	}
	if out != nil {
		// The spool is whole: Ctrl-C may end den again, as it would any writer to a pipe
		// that stalls (den save IMAGE | less).
		stop()
		if err := copySpool(out.w, path); err != nil {
			return withCode(125, err)
		}
	}
	for _, s := range saved {
		e.rt.PublishImage("save", s.ID, s.Name)
	}
	return nil
}

// registryOptions turns the registry flags into options; creds and platform flags count only
// where the command has them.
func registryOptions(c *cli.Context, e *env) (registry.Options, error) {
	o := registry.Options{
		Env:      registry.NewEnv(e.rt.Paths, os.Getenv),
		CertDir:  c.String("cert-dir"),
		AuthFile: c.String("authfile"),
	}
	if c.IsSet("tls-verify") {
		o.TLSVerify = types.NewOptionalBool(c.Bool("tls-verify"))
	}
	if s := c.String("creds"); s != "" {
		creds, err := registry.ParseCreds(s)
		if err != nil {
			return o, err
		}
		o.Creds = creds
	}
	if s := c.String("platform"); s != "" {
		p, err := registry.ParsePlatform(s)
		if err != nil {
			return o, err
		}
		o.Platform = p
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"os", &o.Platform.OS}, {"arch", &o.Platform.Arch}, {"variant", &o.Platform.Variant}} {
		if v := c.String(f.name); v != "" {
			*f.dst = v
		}
	}
	return o, nil
}

// interruptible cancels the operation on Ctrl-C, SIGTERM or a closed terminal (SIGHUP), so
// a copy stops cleanly and removes what it stored.
func interruptible() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
}

// transfer is what pull and push share: storage, the registry options, progress on stderr
// unless --quiet, and a context that Ctrl-C cancels.
type transfer struct {
	e    *env
	im   *image.Manager
	reg  registry.Options
	ctx  context.Context
	stop context.CancelFunc
}

func newTransfer(c *cli.Context) (*transfer, error) {
	e, err := newEnv(c)
	if err != nil {
		return nil, err
	}
	x := &transfer{e: e}
	if x.reg, err = registryOptions(c, e); err != nil {
		return nil, withCode(125, err)
	}
	if !c.Bool("quiet") {
		// containers/image draws progress bars when this is a terminal, else prints lines.
		e.rt.Report = c.App.ErrWriter
	}
	if x.im, err = e.rt.Images(); err != nil {
		e.rt.Close()
		return nil, withCode(125, err)
	}
	x.ctx, x.stop = interruptible()
	return x, nil
}

func (x *transfer) close() {
	x.stop()
	x.e.rt.Close()
}

// authContext is the registry configuration of login and logout, which open no storage.
func authContext(c *cli.Context) (*types.SystemContext, func(), error) {
	e, err := newEnv(c)
	if err != nil {
		return nil, nil, err
	}
	o, err := registryOptions(c, e)
	if err != nil {
		return nil, nil, withCode(125, err)
	}
	sys, done, err := o.SystemContext()
	if err != nil {
		return nil, nil, withCode(125, err)
	}
	return sys, done, nil
}

func readPasswordStdin() (string, error) {
	b, err := io.ReadAll(io.LimitReader(os.Stdin, 1<<20))
	if err != nil {
		return "", fmt.Errorf("reading the password from stdin: %w", err)
	}
	pass := strings.TrimRight(string(b), "\r\n")
	if pass == "" {
		return "", errors.New("--password-stdin: standard input was empty")
	}
	return pass, nil
}

// askCredentials prompts on the terminal for what is missing; without one it says which
// flag to give.
func askCredentials(c *cli.Context, user, pass string) (string, string, error) {
	tty := term.IsTerminal(int(os.Stdin.Fd()))
	if user == "" {
		if !tty {
			return "", "", errors.New("no user name given: use -u USERNAME")
		}
		fmt.Fprint(c.App.ErrWriter, "Username: ")
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if user = strings.TrimSpace(line); err != nil || user == "" {
			return "", "", errors.New("no user name given: use -u USERNAME")
		}
	}
	if pass == "" {
		if !tty {
			return "", "", errors.New("no password given: use -p, --password-stdin, or run den login on a terminal")
		}
		fmt.Fprint(c.App.ErrWriter, "Password: ")
		b, err := term.ReadPassword(int(os.Stdin.Fd()))
		fmt.Fprintln(c.App.ErrWriter)
		if pass = string(b); err != nil || pass == "" {
			return "", "", errors.New("no password given: use -p or --password-stdin")
		}
	}
	return user, pass, nil
}

// spoolStdin copies standard input to a temporary file: archives are read by random access.
// A cancelled ctx (Ctrl-C) ends it at once, the file removed, however long the writer of
// standard input keeps it open.
func spoolStdin(ctx context.Context) (string, error) {
	if fi, err := os.Stdin.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		return "", errors.New("no archive given: use `den load -i FILE` or pipe an archive into den load")
	}
	f, err := os.CreateTemp("", "den-load-*.tar")
	if err != nil {
		return "", fmt.Errorf("spooling stdin: %w", err)
	}
	copied := make(chan error, 1)
	go func() {
		_, err := io.Copy(f, os.Stdin)
		copied <- err
	}()
	select {
	case err = <-copied:
	case <-ctx.Done():
		err = errors.New("interrupted; nothing was loaded")
	}
	// An interrupted copy may still write: the name goes, and the data with the process.
	f.Close()
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("spooling stdin: %w", err)
	}
	return f.Name(), nil
}

// copySpool copies the spooled archive at path to w, removing its name first: a reader that
// stops early (den save IMAGE | head) ends den by SIGPIPE, which runs no deferred removal.
func copySpool(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("spooling the archive: %w", err)
	}
	if _, err := io.Copy(w, f); err != nil {
		return fmt.Errorf("writing the archive: %w", err)
	}
	return nil
}
