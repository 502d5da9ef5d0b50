package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/den-project/den/store/image"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/urfave/cli/v2"
	"go.podman.io/image/v5/docker/reference"
)

// imageRow is one line of `den images`, with podman's --format field names.
type imageRow struct {
	ID, Repository, Tag, Digest, Created, CreatedAt, CreatedSince, Size string
	Names                                                               []string
	Labels                                                              map[string]string
}

// imageJSON is podman's JSON shape for images.
type imageJSON struct {
	ID          string            `json:"Id"`
	ParentID    string            `json:"ParentId"`
	RepoTags    []string          `json:"RepoTags"`
	RepoDigests []string          `json:"RepoDigests"`
	Size        int64             `json:"Size"`
	SharedSize  int64             `json:"SharedSize"`
	VirtualSize int64             `json:"VirtualSize"`
	Labels      map[string]string `json:"Labels"`
	Containers  int               `json:"Containers"`
	Names       []string          `json:"Names"`
	Digest      string            `json:"Digest"`
	Created     int64             `json:"Created"`
	CreatedAt   string            `json:"CreatedAt"`
}

func splitRepoTag(name string) (repo, tag string) {
	n, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return name, "<none>"
	}
	repo = n.Name()
	if t, ok := n.(reference.Tagged); ok {
		return repo, t.Tag()
	}
	return repo, "<none>"
}

func imagesCmd() *cli.Command {
	return &cli.Command{
		Name:      "images",
		Usage:     "list images in local storage",
		ArgsUsage: "[IMAGE]",
		Description: `Lists stored images, newest first: one line per name.

Examples:
   den images
   den images -q
   den images --format '{{.Repository}}:{{.Tag}} {{.Size}}'
   den images --format json`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only image ids"},
			&cli.BoolFlag{Name: "no-trunc", Usage: "do not truncate image ids"},
			&cli.StringFlag{Name: "format", Usage: "Go template, \"table TEMPLATE\" or \"json\""},
		},
		UseShortOptionHandling: true,
		Action: func(c *cli.Context) error {
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			imgs, err := e.rt.ListImages()
			if err != nil {
				return withCode(125, err)
			}
			filter := c.Args().First()
			var rows []imageRow
			js := []imageJSON{}
			seen := map[string]bool{}
			for _, img := range imgs {
				id := img.ID
				if !c.Bool("no-trunc") {
					id = id[:12]
				} else {
					id = "sha256:" + id
				}
				names := img.Names
				if len(names) == 0 {
					names = []string{""}
				}
				matched := filter == ""
				for _, n := range names {
					repo, tag := "<none>", "<none>"
					if n != "" {
						repo, tag = splitRepoTag(n)
					}
					if filter != "" && !matchesImageFilter(filter, n, img.ID) {
						continue
					}
					matched = true
					if c.Bool("quiet") && seen[img.ID] {
						continue
					}
					seen[img.ID] = true
					rows = append(rows, imageRow{
						ID: id, Repository: repo, Tag: tag, Digest: img.Digest,
						Created: humanAgo(img.Created), CreatedSince: humanAgo(img.Created),
						CreatedAt: img.Created.String(), Size: humanSize(img.Size),
						Names: img.Names, Labels: img.Labels,
					})
				}
				if matched {
					js = append(js, imageJSON{
						ID: img.ID, RepoTags: img.Names, RepoDigests: []string{}, Size: img.Size, VirtualSize: img.Size,
						Labels: img.Labels, Names: img.Names, Digest: img.Digest,
						Created: img.Created.Unix(), CreatedAt: img.Created.Format("2006-01-02T15:04:05Z07:00"),
					})
				}
			}
			format := c.String("format")
			if c.Bool("quiet") {
				format = "{{.ID}}"
			}
			return printList(c.App.Writer, format, []column{
				{"REPOSITORY", "Repository"}, {"TAG", "Tag"}, {"IMAGE ID", "ID"}, {"CREATED", "Created"}, {"SIZE", "Size"},
			}, rows, js)
		},
	}
}

// matchesImageFilter is `den images NAME`: the name with or without registry and tag.
func matchesImageFilter(filter, name, id string) bool {
	if strings.HasPrefix(id, filter) {
		return true
	}
	if name == "" {
		return false
	}
	for _, cand := range image.Candidates(filter) {
		if cand == name {
			return true
		}
	}
	repo, _ := splitRepoTag(name)
	return repo == filter || strings.HasSuffix(repo, "/"+filter) || strings.HasSuffix(name, "/"+filter)
}

func loadCmd() *cli.Command {
	return &cli.Command{
		Name:  "load",
		Usage: "load images from a docker-archive or oci-archive",
		Description: `Stores every image of a docker-archive or oci-archive (gzip or not), from a file
or from standard input.

Examples:
   den load -i busybox.tar
   den load < busybox.tar.gz`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "input", Aliases: []string{"i"}, Usage: "read from this archive instead of stdin"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only the loaded image names"},
		},
		UseShortOptionHandling: true,
		Action: func(c *cli.Context) error {
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			defer e.rt.Close()
			path := c.String("input")
			if path == "" {
				tmp, err := spoolStdin()
				if err != nil {
					return withCode(125, err)
				}
				defer os.Remove(tmp)
				path = tmp
			}
			if !c.Bool("quiet") {
				e.rt.Report = c.App.ErrWriter
			}
			im, err := e.rt.Images()
			if err != nil {
				return withCode(125, err)
			}
			loaded, err := im.Load(context.Background(), path)
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
		},
	}
}

// spoolStdin copies standard input to a temporary file: archives are read by random access.
func spoolStdin() (string, error) {
	if fi, err := os.Stdin.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		return "", errors.New("no archive given: use `den load -i FILE` or pipe an archive into den load")
	}
	f, err := os.CreateTemp("", "den-load-*.tar")
	if err != nil {
		return "", fmt.Errorf("spooling stdin: %w", err)
	}
	defer f.Close()
	if _, err := io.Copy(f, os.Stdin); err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("spooling stdin: %w", err)
	}
	return f.Name(), nil
}

func importCmd() *cli.Command {
	return &cli.Command{
		Name:      "import",
		Usage:     "create an image from a root filesystem tarball",
		ArgsUsage: "TARBALL [IMAGE]",
		Description: `Stores a tarball of a root filesystem as a one-layer image and prints its id.
Short names go under localhost/, as in podman.

Examples:
   den import rootfs.tar myimage
   den import --change 'CMD ["sh"]' rootfs.tar myimage:1.0`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "change", Aliases: []string{"c"}, Usage: "apply CMD, ENTRYPOINT, ENV, WORKDIR, USER or LABEL to the image config"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "do not print progress"},
		},
		UseShortOptionHandling: true,
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 || c.NArg() > 2 {
				return withCode(125, errors.New("den import needs TARBALL and optionally an image name"))
			}
			var cfg imgspecv1.ImageConfig
			for _, ch := range c.StringSlice("change") {
				if err := image.ApplyChange(&cfg, ch); err != nil {
					return withCode(125, err)
				}
			}
			name := c.Args().Get(1)
			if name != "" {
				if _, err := image.NormalizeLocalName(name); err != nil {
					return withCode(125, err)
				}
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			defer e.rt.Close()
			if !c.Bool("quiet") {
				e.rt.Report = c.App.ErrWriter
			}
			im, err := e.rt.Images()
			if err != nil {
				return withCode(125, err)
			}
			id, err := im.Import(context.Background(), c.Args().First(), name, cfg)
			if err != nil {
				return withCode(125, err)
			}
			e.rt.PublishImage("import", id, name)
			fmt.Fprintln(c.App.Writer, "sha256:"+id)
			return nil
		},
	}
}

func rmiCmd() *cli.Command {
	return &cli.Command{
		Name:      "rmi",
		Usage:     "remove images",
		ArgsUsage: "IMAGE...",
		Description: `Removes images, or untags one name of an image with several. Exit codes: 1
when an image is not known, 2 when a container uses it, 125 otherwise.

Examples:
   den rmi busybox
   den rmi -f 3f57d9401f8d`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "also remove containers using the image"},
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "remove all images"},
		},
		UseShortOptionHandling: true,
		Action: func(c *cli.Context) error {
			refs := c.Args().Slice()
			if len(refs) == 0 && !c.Bool("all") {
				return withCode(125, errors.New("no image given: den rmi [-f] IMAGE... or den rmi -a"))
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			defer e.rt.Close()
			im, err := e.rt.Images()
			if err != nil {
				return withCode(125, err)
			}
			if c.Bool("all") {
				all, err := im.List()
				if err != nil {
					return withCode(125, err)
				}
				for _, img := range all {
					refs = append(refs, img.ID)
				}
			}
			var firstErr error
			fail := func(code int, err error) {
				if firstErr == nil {
					firstErr = withCode(code, err)
				} else {
					fmt.Fprintln(c.App.ErrWriter, "Error:", err)
				}
			}
			for _, ref := range refs {
				if c.Bool("force") {
					if img, err := im.Lookup(ref); err == nil {
						if err := e.rt.RemoveContainersOfImage(context.Background(), img.ID); err != nil {
							fail(125, err)
							continue
						}
					}
				}
				untagged, deleted, err := im.Remove(ref, e.rt.ImageInUse)
				if err != nil {
					switch {
					case errors.Is(err, image.ErrNotFound):
						fail(1, err)
					case errors.Is(err, image.ErrInUse):
						fail(2, err)
					default:
						fail(125, err)
					}
					continue
				}
				for _, n := range untagged {
					e.rt.PublishImage("untag", deleted, n)
					fmt.Fprintln(c.App.Writer, "Untagged: "+n)
				}
				if deleted != "" {
					e.rt.PublishImage("remove", deleted, ref)
					fmt.Fprintln(c.App.Writer, "Deleted: "+deleted)
				}
			}
			return firstErr
		},
	}
}

// imageCmd is podman's "image" noun: the image verbs under their podman names.
func imageCmd() *cli.Command {
	ls := imagesCmd()
	ls.Name, ls.Aliases = "ls", []string{"list"}
	rm := rmiCmd()
	rm.Name, rm.Aliases = "rm", []string{"remove"}
	subs := []*cli.Command{ls, rm, loadCmd(), importCmd(), pullCmd(), pushCmd()}
	for _, s := range subs {
		s.OnUsageError = usageError
		hideHelpCommand(s)
		if imageNamespaceVerbs[s.Name] {
			s.Action = inUserNS(s.Action)
		}
	}
	return &cli.Command{
		Name:        "image",
		Usage:       "manage images",
		Subcommands: subs,
	}
}
