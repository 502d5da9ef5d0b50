package cmd

import "github.com/urfave/cli/v2"

// registryFlags are the flags of every command that reaches a registry.
func registryFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "tls-verify", Value: true, Usage: "require HTTPS and verify certificates; unset, registries.conf's \"insecure\" decides"},
		&cli.StringFlag{Name: "cert-dir", Usage: "use the certificates (*.crt, *.cert, *.key) in this directory instead of certs.d"},
		&cli.StringFlag{Name: "authfile", EnvVars: []string{"REGISTRY_AUTH_FILE"}, Usage: "credentials file (default $XDG_RUNTIME_DIR/containers/auth.json; ~/.docker/config.json is read too)"},
	}
}

var credsFlag = &cli.StringFlag{Name: "creds", Usage: "use `USERNAME:PASSWORD` for this operation instead of stored credentials"}

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
		Action:                 pullAction,
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
		Action:                 pushAction,
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
		Action:                 loginAction,
	}
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
		Action:                 logoutAction,
	}
}
