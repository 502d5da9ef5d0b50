package cmd

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/den-project/den/store/image"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/urfave/cli/v2"
	cstorage "go.podman.io/storage"
)

// inspectImage is podman's JSON shape of `image inspect`.
type inspectImage struct {
	ID           string                `json:"Id"`
	Digest       string                `json:"Digest"`
	RepoTags     []string              `json:"RepoTags"`
	RepoDigests  []string              `json:"RepoDigests"`
	Parent       string                `json:"Parent"`
	Comment      string                `json:"Comment"`
	Created      *time.Time            `json:"Created,omitempty"`
	Config       imgspecv1.ImageConfig `json:"Config"`
	Version      string                `json:"Version"`
	Author       string                `json:"Author"`
	Architecture string                `json:"Architecture"`
	Os           string                `json:"Os"`
	Size         int64                 `json:"Size"`
	VirtualSize  int64                 `json:"VirtualSize"`
	GraphDriver  struct {
		Name string            `json:"Name"`
		Data map[string]string `json:"Data"`
	} `json:"GraphDriver"`
	RootFS struct {
		Type   string   `json:"Type"`
		Layers []string `json:"Layers"`
	} `json:"RootFS"`
	Labels       map[string]string   `json:"Labels"`
	Annotations  map[string]string   `json:"Annotations"`
	ManifestType string              `json:"ManifestType"`
	User         string              `json:"User"`
	History      []imgspecv1.History `json:"History"`
	NamesHistory []string            `json:"NamesHistory"`
}

// Id lets templates written for podman say {{.Id}} as well as {{.ID}}.
func (i inspectImage) Id() string { return i.ID } //nolint:revive // podman's template name

func toInspectImage(d *image.Details) inspectImage {
	img, cfg := d.Image, d.Config
	in := inspectImage{
		ID: img.ID, Digest: img.Digest.String(), RepoTags: orEmpty(img.Names), RepoDigests: repoDigests(img.Names, digestStrings(img)),
		Created: cfg.Created, Config: cfg.Config, Author: cfg.Author, Architecture: cfg.Architecture, Os: cfg.OS,
		Size: d.Size, VirtualSize: d.Size, Labels: cfg.Config.Labels, Annotations: map[string]string{},
		ManifestType: d.ManifestType, User: cfg.Config.User, History: orEmpty(cfg.History),
		NamesHistory: orEmpty(img.NamesHistory),
	}
	if n := len(cfg.History); n > 0 {
		in.Comment = cfg.History[n-1].Comment
	}
	in.GraphDriver.Name, in.GraphDriver.Data = d.GraphDriver, d.GraphDriverData
	in.RootFS.Type = "layers"
	in.RootFS.Layers = []string{}
	for _, l := range cfg.RootFS.DiffIDs {
		in.RootFS.Layers = append(in.RootFS.Layers, l.String())
	}
	return in
}

func digestStrings(img *cstorage.Image) []string {
	out := []string{}
	for _, d := range img.Digests {
		out = append(out, d.String())
	}
	return out
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// repoDigests are podman's REPOSITORY@DIGEST names: every repository of the image with
// every digest of its manifests.
func repoDigests(names []string, digests []string) []string {
	out := []string{}
	for _, n := range names {
		repo, _ := splitRepoTag(n)
		for _, d := range digests {
			if rd := repo + "@" + d; d != "" && !slices.Contains(out, rd) {
				out = append(out, rd)
			}
		}
	}
	return out
}

// describeImages finds each image a user named, from the records on disk (no namespace).
// missing says what to do with one that is not found; it returns the error to end with.
func describeImages(e *env, refs []string, missing func(ref string, err error)) ([]*image.Details, error) {
	cat, err := e.rt.Catalog()
	if err != nil {
		return nil, withCode(125, err)
	}
	var out []*image.Details
	for _, ref := range refs {
		img, err := cat.Lookup(ref)
		if err == nil {
			var d *image.Details
			if d, err = cat.Describe(img); err == nil {
				out = append(out, d)
				continue
			}
		}
		missing(ref, err)
	}
	return out, nil
}

func imageInspectCmd() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "show an image's configuration as JSON",
		ArgsUsage: "IMAGE...",
		Description: `Prints podman's JSON shape for images, or renders --format for each. Read-only: it
enters no namespace.

Examples:
   den image inspect busybox
   den image inspect --format '{{.Id}} {{.Config.Cmd}}' busybox
   den image inspect -f '{{index .Labels "org.den.test"}}' busybox`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Usage: "Go template or \"json\""},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return withCode(125, errors.New("no image given: den image inspect IMAGE..."))
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			var first error
			ds, err := describeImages(e, c.Args().Slice(), func(_ string, err error) {
				first = firstErr(first, withCode(125, err))
			})
			if err != nil {
				return err
			}
			var out []any
			for _, d := range ds {
				out = append(out, toInspectImage(d))
			}
			if err := printInspected(c, c.String("format"), out); err != nil {
				return err
			}
			return first
		},
	}
}

func firstErr(have, err error) error {
	if have != nil {
		return have
	}
	return err
}

// printInspected writes inspect's results: a JSON array, or --format for each.
func printInspected[T any](c *cli.Context, format string, out []T) error {
	if format != "" && format != "json" {
		for _, in := range out {
			if err := printOne(c, format, in); err != nil {
				return err
			}
		}
		return nil
	}
	return printOne(c, "json", orEmpty(out))
}

// historyRow is one line of `den history`, with podman's --format field names.
type historyRow struct {
	ID, Created, CreatedAt, CreatedSince, CreatedBy, Size, Comment string
	Tags                                                           []string
}

// historyJSON is podman's JSON shape of one history entry.
type historyJSON struct {
	ID        string     `json:"id"`
	Created   *time.Time `json:"created,omitempty"`
	CreatedBy string     `json:",omitempty"`
	Tags      []string   `json:"tags,omitempty"`
	Size      int64      `json:"size"`
	Comment   string     `json:"comment,omitempty"`
}

func historyCmd() *cli.Command {
	return &cli.Command{
		Name:      "history",
		Usage:     "show how an image was built, newest step first",
		ArgsUsage: "IMAGE",
		Description: `Lists the image's history: the id (of the image for the newest step), when each
step ran, its command, the size of the layer it made and its comment. Read-only: it enters
no namespace.

Examples:
   den history busybox
   den history --no-trunc --format '{{.CreatedBy}} {{.Size}}' busybox
   den history -q busybox`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only the ids"},
			&cli.BoolFlag{Name: "no-trunc", Usage: "do not truncate ids and commands"},
			&cli.BoolFlag{Name: "human", Aliases: []string{"H"}, Value: true, Usage: "show sizes and dates for people"},
			&cli.StringFlag{Name: "format", Usage: "Go template, \"table TEMPLATE\" or \"json\""},
		},
		UseShortOptionHandling: true,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return withCode(125, errors.New("den history takes exactly one image"))
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			var lookupErr error
			ds, err := describeImages(e, c.Args().Slice(), func(_ string, err error) { lookupErr = withCode(125, err) })
			if err != nil || lookupErr != nil {
				return firstErr(err, lookupErr)
			}
			noTrunc, human := c.Bool("no-trunc"), c.Bool("human")
			var rows []historyRow
			js := []historyJSON{}
			for _, h := range ds[0].History() {
				row := historyRow{ID: h.ID, CreatedBy: h.CreatedBy, Comment: h.Comment, Tags: h.Tags,
					CreatedAt: h.Created.Format(time.RFC3339), CreatedSince: humanAgo(h.Created)}
				if !noTrunc && len(row.ID) > 12 && row.ID != "<missing>" {
					row.ID = row.ID[:12]
				}
				if !noTrunc && len(row.CreatedBy) > 45 {
					row.CreatedBy = row.CreatedBy[:42] + "..."
				}
				row.Created, row.Size = row.CreatedSince, humanSize(h.Size)
				if !human {
					row.Created, row.Size = row.CreatedAt, fmt.Sprint(h.Size)
				}
				rows = append(rows, row)
				j := historyJSON{ID: h.ID, CreatedBy: h.CreatedBy, Tags: h.Tags, Size: h.Size, Comment: h.Comment}
				if !h.Created.IsZero() {
					j.Created = &h.Created
				}
				js = append(js, j)
			}
			format := c.String("format")
			if c.Bool("quiet") {
				format = "{{.ID}}"
			}
			return printList(c.App.Writer, format, []column{
				{"ID", "ID"}, {"CREATED", "Created"}, {"CREATED BY", "CreatedBy"}, {"SIZE", "Size"}, {"COMMENT", "Comment"},
			}, rows, js)
		},
	}
}

func imageExistsCmd() *cli.Command {
	return &cli.Command{
		Name:      "exists",
		Usage:     "exit 0 if an image is stored, 1 if not",
		ArgsUsage: "IMAGE",
		Description: `Read-only: it enters no namespace.

Examples:
   den image exists busybox && echo yes`,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return withCode(125, errors.New("den image exists takes exactly one image"))
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			cat, err := e.rt.Catalog()
			if err != nil {
				return withCode(125, err)
			}
			if _, err := cat.Lookup(c.Args().First()); err != nil {
				if errors.Is(err, image.ErrNotFound) {
					return exitCode(1)
				}
				return withCode(125, err)
			}
			return nil
		},
	}
}

// inspectTypes are the values of `den inspect --type`.
var inspectTypes = []string{"all", "container", "image"}

func validInspectType(t string) error {
	if !slices.Contains(inspectTypes, t) {
		return fmt.Errorf("--type %q: use %s", t, strings.Join(inspectTypes, ", "))
	}
	return nil
}
