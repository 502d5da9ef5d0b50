package cmd

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/den-project/den/runtime"
	units "github.com/docker/go-units"
	"github.com/urfave/cli/v2"
)

// dfSummary is one row of `den system df`, with podman's --format fields.
type dfSummary struct {
	Type           string
	Total          int
	Active         int
	RawSize        int64
	RawReclaimable int64
	Size           string
	Reclaimable    string
}

func newDFSummary(typ string, total, active int, size, reclaimable int64) dfSummary {
	pct := 0
	if size > 0 {
		pct = int(math.Round(float64(reclaimable) * 100 / float64(size)))
	}
	return dfSummary{
		Type: typ, Total: total, Active: active, RawSize: size, RawReclaimable: reclaimable,
		Size:        units.HumanSize(float64(size)),
		Reclaimable: fmt.Sprintf("%s (%d%%)", units.HumanSize(float64(reclaimable)), pct),
	}
}

// dfImageRow, dfContainerRow and dfVolumeRow are the rows of `system df -v`.
type dfImageRow struct {
	Repository, Tag, ID, Created, Size, SharedSize, UniqueSize string
	Containers                                                 int
}

type dfContainerRow struct {
	ID, Image, Command, Size, Created, Status, Names string
	LocalVolumes                                     int
}

type dfVolumeRow struct {
	VolumeName, Size string
	Links            int
}

func systemDfCmd() *cli.Command {
	return &cli.Command{
		Name:  "df",
		Usage: "show the disk space images, containers and volumes use",
		Description: `Shows, for images, containers and volumes, how many there are, how many are in use
(images and volumes by a container, containers running), the space they take and what
removing the unused ones would free. Images count a layer that several share once.
Containers count their writable layer. With -v, one table per kind.

Examples:
   den system df
   den system df -v
   den system df --format '{{.Type}} {{.Total}} {{.RawSize}}'
   den system df --format json`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "one table per image, container and volume"},
			&cli.StringFlag{Name: "format", Usage: "Go template or \"json\" (fields: Type, Total, Active, Size, Reclaimable, RawSize, RawReclaimable)"},
		},
		Action: func(c *cli.Context) error {
			if c.Bool("verbose") && c.String("format") != "" {
				return withCode(125, errors.New("--format and --verbose cannot be combined: use one"))
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			defer e.rt.Close()
			du, err := e.rt.DiskUsage()
			if err != nil {
				return withCode(125, err)
			}
			if c.Bool("verbose") {
				return printDFVerbose(c, du)
			}
			rows := dfSummaries(du)
			return printList(c.App.Writer, c.String("format"), []column{
				{"TYPE", "Type"}, {"TOTAL", "Total"}, {"ACTIVE", "Active"}, {"SIZE", "Size"}, {"RECLAIMABLE", "Reclaimable"},
			}, rows, rows)
		},
	}
}

func dfSummaries(du *runtime.DiskUsage) []dfSummary {
	activeImages := 0
	for _, i := range du.Images {
		if i.Containers > 0 {
			activeImages++
		}
	}
	running := 0
	var csize, cfree int64
	for _, ct := range du.Containers {
		csize += ct.Size
		if ct.Container.State.Status == runtime.StatusRunning {
			running++
		} else {
			cfree += ct.Size
		}
	}
	usedVols := 0
	var vsize, vfree int64
	for _, v := range du.Volumes {
		vsize += v.Size
		if v.Links > 0 {
			usedVols++
		} else {
			vfree += v.Size
		}
	}
	return []dfSummary{
		newDFSummary("Images", len(du.Images), activeImages, du.ImagesSize, du.ImagesReclaimable),
		newDFSummary("Containers", len(du.Containers), running, csize, cfree),
		newDFSummary("Local Volumes", len(du.Volumes), usedVols, vsize, vfree),
	}
}

func printDFVerbose(c *cli.Context, du *runtime.DiskUsage) error {
	w := c.App.Writer
	images := []dfImageRow{}
	for _, i := range du.Images {
		for _, rt := range repoTags(i.Names) {
			images = append(images, dfImageRow{
				Repository: rt[1], Tag: rt[2], ID: i.ID[:min(12, len(i.ID))], Created: humanAgo(i.Created),
				Size: units.HumanSize(float64(i.Size)), SharedSize: units.HumanSize(float64(i.SharedSize)),
				UniqueSize: units.HumanSize(float64(i.UniqueSize())), Containers: i.Containers,
			})
		}
	}
	fmt.Fprint(w, "Images space usage:\n\n")
	if err := printList(w, "", []column{
		{"REPOSITORY", "Repository"}, {"TAG", "Tag"}, {"IMAGE ID", "ID"}, {"CREATED", "Created"}, {"SIZE", "Size"},
		{"SHARED SIZE", "SharedSize"}, {"UNIQUE SIZE", "UniqueSize"}, {"CONTAINERS", "Containers"},
	}, images, nil); err != nil {
		return err
	}
	containers := []dfContainerRow{}
	for _, ct := range du.Containers {
		cmdline := strings.Join(ct.Container.Config.Args, " ")
		if len(cmdline) > 20 {
			cmdline = cmdline[:17] + "..."
		}
		containers = append(containers, dfContainerRow{
			ID: ct.Container.ShortID(), Image: ct.Container.ImageID[:min(12, len(ct.Container.ImageID))], Command: cmdline,
			LocalVolumes: ct.Volumes, Size: units.HumanSize(float64(ct.Size)), Created: humanAgo(ct.Container.Created),
			Status: ct.Container.State.Status, Names: ct.Container.Name,
		})
	}
	fmt.Fprint(w, "\nContainers space usage:\n\n")
	if err := printList(w, "", []column{
		{"CONTAINER ID", "ID"}, {"IMAGE", "Image"}, {"COMMAND", "Command"}, {"LOCAL VOLUMES", "LocalVolumes"},
		{"SIZE", "Size"}, {"CREATED", "Created"}, {"STATUS", "Status"}, {"NAMES", "Names"},
	}, containers, nil); err != nil {
		return err
	}
	volumes := []dfVolumeRow{}
	for _, v := range du.Volumes {
		volumes = append(volumes, dfVolumeRow{VolumeName: v.Name, Links: v.Links, Size: units.HumanSize(float64(v.Size))})
	}
	fmt.Fprint(w, "\nLocal Volumes space usage:\n\n")
	return printList(w, "", []column{{"VOLUME NAME", "VolumeName"}, {"LINKS", "Links"}, {"SIZE", "Size"}}, volumes, nil)
}
