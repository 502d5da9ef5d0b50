package cmd

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

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
	// created and size sort the rows.
	created time.Time
	size    int64
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
	Dangling    bool              `json:"Dangling"`
}

// repoTags gives each of an image's names with its repository and tag, as listings show
// them: an image without a name is one row of <none>.
func repoTags(names []string) [][3]string {
	if len(names) == 0 {
		return [][3]string{{"", "<none>", "<none>"}}
	}
	out := make([][3]string, 0, len(names))
	for _, n := range names {
		repo, tag := splitRepoTag(n)
		out = append(out, [3]string{n, repo, tag})
	}
	return out
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

// imageSortKeys are the values of `den images --sort`.
var imageSortKeys = map[string]func(a, b imageRow) int{
	"created":    func(a, b imageRow) int { return b.created.Compare(a.created) },
	"id":         func(a, b imageRow) int { return strings.Compare(a.ID, b.ID) },
	"repository": func(a, b imageRow) int { return strings.Compare(a.Repository, b.Repository) },
	"tag":        func(a, b imageRow) int { return strings.Compare(a.Tag, b.Tag) },
	"size":       func(a, b imageRow) int { return cmp.Compare(a.size, b.size) },
}

func imagesCmd() *cli.Command {
	return &cli.Command{
		Name:      "images",
		Usage:     "list images in local storage",
		ArgsUsage: "[IMAGE]",
		Description: `Lists stored images, newest first: one line per name. Read-only: it enters no
namespace.

Filters (--filter KEY=VALUE, repeatable; different keys must all hold):
   dangling=true|false   images without a name, or with one
   reference=PATTERN     a glob over the names: busybox, docker.io/library/*, *box:latest
   label=KEY[=VALUE]     images with that label (and value)
   before=IMAGE          images created before IMAGE
   since=IMAGE           images created after IMAGE

Examples:
   den images
   den images -q
   den images --filter dangling=true
   den images --filter reference='localhost/*' --sort repository
   den images --digests --no-trunc
   den images --format '{{.Repository}}:{{.Tag}} {{.Size}}'
   den images --format json`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only image ids"},
			&cli.BoolFlag{Name: "no-trunc", Usage: "do not truncate image ids"},
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "also intermediate images (den makes none)"},
			&cli.BoolFlag{Name: "digests", Usage: "show the manifest digests"},
			&cli.StringSliceFlag{Name: "filter", Aliases: []string{"f"}, Usage: "dangling=, reference=, label=, before= or since="},
			&cli.StringFlag{Name: "sort", Value: "created", Usage: "created, id, repository, size or tag"},
			&cli.StringFlag{Name: "format", Usage: "Go template, \"table TEMPLATE\" or \"json\""},
			noHeadingFlag("n"),
		},
		UseShortOptionHandling: true,
		Action: func(c *cli.Context) error {
			filter, err := image.ParseFilters(c.StringSlice("filter"))
			if err != nil {
				return withCode(125, err)
			}
			sortBy, ok := imageSortKeys[c.String("sort")]
			if !ok {
				return withCode(125, fmt.Errorf("--sort %q: use created, id, repository, size or tag", c.String("sort")))
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			cat, err := e.rt.Catalog()
			if err != nil {
				return withCode(125, err)
			}
			err = filter.Bind(func(ref string) (time.Time, error) {
				img, err := cat.Lookup(ref)
				if err != nil {
					return time.Time{}, err
				}
				return img.Created, nil
			})
			if err != nil {
				return withCode(125, err)
			}
			nameFilter := c.Args().First()
			var rows []imageRow
			js := []imageJSON{}
			for _, img := range cat.List() {
				if !filter.Match(img) {
					continue
				}
				id := img.ID
				if !c.Bool("no-trunc") {
					id = id[:12]
				} else {
					id = "sha256:" + id
				}
				matched := false
				for _, rt := range repoTags(img.Names) {
					n, repo, tag := rt[0], rt[1], rt[2]
					if nameFilter != "" && !matchesImageFilter(nameFilter, n, img.ID) {
						continue
					}
					matched = true
					rows = append(rows, imageRow{
						ID: id, Repository: repo, Tag: tag, Digest: img.Digest,
						Created: humanAgo(img.Created), CreatedSince: humanAgo(img.Created),
						CreatedAt: img.Created.String(), Size: humanSize(img.Size),
						Names: img.Names, Labels: img.Labels, created: img.Created, size: img.Size,
					})
				}
				if matched {
					js = append(js, imageJSON{
						ID: img.ID, RepoTags: orEmpty(img.Names), RepoDigests: repoDigests(img.Names, []string{img.Digest}),
						Size: img.Size, VirtualSize: img.Size, Labels: img.Labels, Names: img.Names, Digest: img.Digest,
						Created: img.Created.Unix(), CreatedAt: img.Created.Format("2006-01-02T15:04:05Z07:00"),
						Dangling: len(img.Names) == 0,
					})
				}
			}
			slices.SortStableFunc(rows, sortBy)
			format := c.String("format")
			if c.Bool("quiet") {
				format = "{{.ID}}"
				rows = uniqueIDs(rows)
			}
			cols := []column{{"REPOSITORY", "Repository"}, {"TAG", "Tag"}, {"IMAGE ID", "ID"}, {"CREATED", "Created"}, {"SIZE", "Size"}}
			if c.Bool("digests") {
				cols = slices.Insert(cols, 2, column{"DIGEST", "Digest"})
			}
			return printList(listWriter(c, format), format, cols, rows, js)
		},
	}
}

// uniqueIDs keeps the first row of each image: -q prints an image once.
func uniqueIDs(rows []imageRow) []imageRow {
	seen := map[string]bool{}
	return slices.DeleteFunc(rows, func(r imageRow) bool {
		dup := seen[r.ID]
		seen[r.ID] = true
		return dup
	})
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
		Action:                 loadAction,
	}
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
		Action:                 importAction,
	}
}

func rmiCmd() *cli.Command {
	return &cli.Command{
		Name:      "rmi",
		Usage:     "remove images",
		ArgsUsage: "IMAGE...",
		Description: `Removes images, or untags one name of an image with several. With --force or
--ignore, an image that is not known is not an error. Exit codes: 1 when an image is not known,
2 when a container uses it, 125 otherwise.

Examples:
   den rmi busybox
   den rmi -f 3f57d9401f8d`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "also remove containers using the image"},
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "remove all images"},
			&cli.BoolFlag{Name: "ignore", Aliases: []string{"i"}, Usage: "an image that is not known is not an error"},
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
			// A container removed a moment ago may still hold its image in storage.
			release, err := e.rt.HoldRemovals()
			if err != nil {
				return withCode(125, err)
			}
			defer release()
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
					case errors.Is(err, image.ErrNotFound) && (c.Bool("force") || c.Bool("ignore")):
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

// imageChanges is the config --change makes of an empty one: it checks the changes before
// any namespace or storage work.
func imageChanges(changes []string) (imgspecv1.ImageConfig, error) {
	var cfg imgspecv1.ImageConfig
	for _, ch := range changes {
		if err := image.ApplyChange(&cfg, ch); err != nil {
			return cfg, withCode(125, err)
		}
	}
	return cfg, nil
}

// checkNewNames refuses a name den could not give an image; empty names are left out.
func checkNewNames(names ...string) error {
	for _, n := range names {
		if n == "" {
			continue
		}
		if _, err := image.NormalizeLocalName(n); err != nil {
			return withCode(125, err)
		}
	}
	return nil
}

// openImages opens storage for an image command, with containers/image's progress on stderr
// unless quiet. The caller closes e.rt.
func openImages(c *cli.Context, quiet bool) (*env, *image.Manager, error) {
	e, err := newEnv(c)
	if err != nil {
		return nil, nil, err
	}
	if !quiet {
		e.rt.Report = c.App.ErrWriter
	}
	im, err := e.rt.Images()
	if err != nil {
		e.rt.Close()
		return nil, nil, withCode(125, err)
	}
	return e, im, nil
}

// imageCmd is podman's "image" noun: the image verbs under their podman names.
func imageCmd() *cli.Command {
	return nounCmd("image", "manage images", imageNamespaceVerbs, imageVerbs())
}

// imageVerbs are the commands of "den image" as their constructors make them.
func imageVerbs() []*cli.Command {
	ls := imagesCmd()
	ls.Name, ls.Aliases = "ls", []string{"list"}
	rm := rmiCmd()
	rm.Name, rm.Aliases = "rm", []string{"remove"}
	return []*cli.Command{
		ls, rm, loadCmd(), importCmd(), tagCmd(), untagCmd(), saveCmd(), imagePruneCmd(),
		imageInspectCmd(), historyCmd(), imageExistsCmd(), pullCmd(), pushCmd(),
	}
}
