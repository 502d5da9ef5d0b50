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

// registryFlags are the flags of every command that reaches a registry.
func registryFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "tls-verify", Value: true, Usage: "require HTTPS and verify certificates; unset, registries.conf's \"insecure\" decides"},
		&cli.StringFlag{Name: "cert-dir", Usage: "use the certificates (*.crt, *.cert, *.key) in this directory instead of certs.d"},
		&cli.StringFlag{Name: "authfile", EnvVars: []string{"REGISTRY_AUTH_FILE"}, Usage: "credentials file (default $XDG_RUNTIME_DIR/containers/auth.json; ~/.docker/config.json is read too)"},
	}
}

var credsFlag = &cli.StringFlag{Name: "creds", Usage: "use `USERNAME:PASSWORD` for this operation instead of stored credentials"}

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

// interruptible cancels the operation on Ctrl-C or SIGTERM, so a copy stops cleanly and
// removes what it stored.
func interruptible() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
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

func pullCmd() *cli.Command {
	return &cli.Command{
		Name:      "pull",
		Usage:     "copy an image from a registry or an archive into local storage",
		ArgsUsage: "IMAGE",
		Description: `Stores an image and prints its id. IMAGE is a registry name, by tag or by
digest, or a location of another transport: docker://NAME, oci:DIR[:REF],
oci-archive:FILE[:REF], docker-archive:FILE[:REF], dir:DIR.

A short name (no registry) resolves through registries.conf: an alias if there is one,
else each unqualified-search registry in order; den never prompts. registries.conf,
policy.json and certs.d are read from den's configuration directory
($XDG_CONFIG_HOME/den or /etc/den) first, then from ~/.config/containers and
/etc/containers. A multi-architecture image gives the host's platform unless --platform,
--arch or --os choose another.

Examples:
   den pull registry.example.com/team/app:1.2
   den pull registry.example.com/team/app@sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741
   den pull --tls-verify=false 127.0.0.1:5000/busybox
   den pull --platform linux/arm64 registry.example.com/app
   den pull -a registry.example.com/app
   den pull oci-archive:/tmp/busybox.tar`,
		Flags: append(registryFlags(), credsFlag,
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only the image id, no progress"},
			&cli.BoolFlag{Name: "all-tags", Aliases: []string{"a"}, Usage: "pull every tag of the repository"},
			&cli.StringFlag{Name: "platform", Usage: "pick `OS/ARCH[/VARIANT]` from a multi-architecture image"},
			&cli.StringFlag{Name: "arch", Usage: "pick this architecture from a multi-architecture image"},
			&cli.StringFlag{Name: "os", Usage: "pick this operating system from a multi-architecture image"},
			&cli.StringFlag{Name: "variant", Usage: "pick this architecture variant (e.g. v8) from a multi-architecture image"},
		),
		UseShortOptionHandling: true,
		Action: func(c *cli.Context) error {
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
		},
	}
}

func pushCmd() *cli.Command {
	return &cli.Command{
		Name:      "push",
		Usage:     "copy an image from local storage to a registry or an archive",
		ArgsUsage: "IMAGE [DESTINATION]",
		Description: `Copies a stored image to the registry its name says, or to DESTINATION: a
registry name or docker://NAME, oci:DIR[:REF], oci-archive:FILE[:REF],
docker-archive:FILE[:REF] or dir:DIR. Credentials and certificates are found as for
den pull.

Examples:
   den push registry.example.com/team/app:1.2
   den push busybox 127.0.0.1:5000/busybox --tls-verify=false
   den push --format v2s2 app registry.example.com/app
   den push busybox oci-archive:/tmp/busybox.tar`,
		Flags: append(registryFlags(), credsFlag,
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print no progress"},
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Usage: "manifest type to write: oci or v2s2 (default: the image's)"},
			&cli.StringFlag{Name: "digestfile", Usage: "write the digest of the pushed manifest to this file"},
		),
		UseShortOptionHandling: true,
		Action: func(c *cli.Context) error {
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
		},
	}
}

func loginCmd() *cli.Command {
	return &cli.Command{
		Name:      "login",
		Usage:     "store credentials for a registry",
		ArgsUsage: "REGISTRY",
		Description: `Checks a user name and password against REGISTRY and stores them in the auth file
that podman uses too ($REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json).
Without -u and -p, credentials already stored (also in ~/.docker/config.json) are checked
first; on a terminal den asks for what is missing.

Examples:
   den login -u alice registry.example.com
   echo "$TOKEN" | den login -u alice --password-stdin registry.example.com
   den login --authfile ./auth.json --tls-verify=false 127.0.0.1:5000`,
		Flags: append(registryFlags(),
			&cli.StringFlag{Name: "username", Aliases: []string{"u"}, Usage: "user name"},
			&cli.StringFlag{Name: "password", Aliases: []string{"p"}, Usage: "password (visible to other users in the process list: prefer --password-stdin)"},
			&cli.BoolFlag{Name: "password-stdin", Usage: "read the password from standard input"},
		),
		UseShortOptionHandling: true,
		Action: func(c *cli.Context) error {
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
		},
	}
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

func logoutCmd() *cli.Command {
	return &cli.Command{
		Name:      "logout",
		Usage:     "remove stored credentials for a registry",
		ArgsUsage: "REGISTRY",
		Description: `Removes the credentials that den login stored for REGISTRY, or all of them
with -a.

Examples:
   den logout registry.example.com
   den logout -a`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "authfile", EnvVars: []string{"REGISTRY_AUTH_FILE"}, Usage: "credentials file (default $XDG_RUNTIME_DIR/containers/auth.json)"},
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "remove the credentials of every registry"},
		},
		UseShortOptionHandling: true,
		Action: func(c *cli.Context) error {
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
		},
	}
}
