package cmd

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/den-project/den/netstack"
	"github.com/den-project/den/runtime"
	"github.com/den-project/den/runtime/security"
	"github.com/den-project/den/store/image"
	units "github.com/docker/go-units"
	"github.com/urfave/cli/v2"
)

// inspectState is podman's State object of a container.
type inspectState struct {
	Status     string               `json:"Status"`
	Running    bool                 `json:"Running"`
	Paused     bool                 `json:"Paused"`
	Restarting bool                 `json:"Restarting"`
	OOMKilled  bool                 `json:"OOMKilled"`
	Dead       bool                 `json:"Dead"`
	Pid        int                  `json:"Pid"`
	ExitCode   int                  `json:"ExitCode"`
	Error      string               `json:"Error"`
	StartedAt  time.Time            `json:"StartedAt"`
	FinishedAt time.Time            `json:"FinishedAt"`
	Health     *runtime.HealthState `json:"Health,omitempty"`
}

type inspectConfig struct {
	Hostname   string            `json:"Hostname"`
	User       string            `json:"User"`
	Env        []string          `json:"Env"`
	Cmd        []string          `json:"Cmd"`
	Image      string            `json:"Image"`
	WorkingDir string            `json:"WorkingDir"`
	Entrypoint []string          `json:"Entrypoint"`
	Labels     map[string]string `json:"Labels"`
	StopSignal string            `json:"StopSignal"`
	// Annotations are --annotation's; Umask the processes' umask, octal; Timezone --tz.
	Annotations map[string]string `json:"Annotations"`
	Umask       string            `json:"Umask"`
	Timezone    string            `json:"Timezone"`
	// StopTimeout is in seconds.
	StopTimeout uint `json:"StopTimeout"`
	Tty         bool `json:"Tty"`
	OpenStdin   bool `json:"OpenStdin"`
}

type inspectHostConfig struct {
	RestartPolicy struct {
		Name              string `json:"Name"`
		MaximumRetryCount int    `json:"MaximumRetryCount"`
	} `json:"RestartPolicy"`
	AutoRemove     bool                            `json:"AutoRemove"`
	NetworkMode    string                          `json:"NetworkMode"`
	PortBindings   map[string][]inspectPortBinding `json:"PortBindings"`
	Dns            []string                        `json:"Dns"`
	DnsSearch      []string                        `json:"DnsSearch"`
	DnsOptions     []string                        `json:"DnsOptions"`
	ExtraHosts     []string                        `json:"ExtraHosts"`
	CapAdd         []string                        `json:"CapAdd"`
	CapDrop        []string                        `json:"CapDrop"`
	Privileged     bool                            `json:"Privileged"`
	ReadonlyRootfs bool                            `json:"ReadonlyRootfs"`
	SecurityOpt    []string                        `json:"SecurityOpt"`
	ShmSize        int64                           `json:"ShmSize"`
	Ulimits        []inspectLimit                  `json:"Ulimits"`
	Memory         int64                           `json:"Memory"`
	NanoCpus       int64                           `json:"NanoCpus"`
	PidsLimit      int64                           `json:"PidsLimit"`
	GroupAdd       []string                        `json:"GroupAdd"`
	Init           bool                            `json:"Init"`
	LogConfig      inspectLogConfig                `json:"LogConfig"`
}

// inspectLogConfig is podman's HostConfig.LogConfig.
type inspectLogConfig struct {
	Type string `json:"Type"`
	Path string `json:"Path"`
	Size string `json:"Size"`
}

// inspectLimit is podman's shape of a --ulimit.
type inspectLimit struct {
	Name string `json:"Name"`
	Soft uint64 `json:"Soft"`
	Hard uint64 `json:"Hard"`
}

// inspectPortBinding is podman's host side of a published port.
type inspectPortBinding struct {
	HostIP   string `json:"HostIp"`
	HostPort string `json:"HostPort"`
}

// inspectContainer is podman's JSON shape of `container inspect`, as far as den has the data.
type inspectContainer struct {
	ID              string            `json:"Id"`
	Created         time.Time         `json:"Created"`
	Path            string            `json:"Path"`
	Args            []string          `json:"Args"`
	State           inspectState      `json:"State"`
	Image           string            `json:"Image"`
	ImageName       string            `json:"ImageName"`
	Name            string            `json:"Name"`
	RestartCount    int               `json:"RestartCount"`
	Driver          string            `json:"Driver"`
	LogPath         string            `json:"LogPath"`
	Config          inspectConfig     `json:"Config"`
	HostConfig      inspectHostConfig `json:"HostConfig"`
	Mounts          []any             `json:"Mounts"`
	NetworkSettings map[string]any    `json:"NetworkSettings"`
	// SizeRw and SizeRootFs are shown with --size only, as in podman.
	SizeRw     *int64 `json:"SizeRw,omitempty"`
	SizeRootFs *int64 `json:"SizeRootFs,omitempty"`
}

// Id lets templates written for podman say {{.Id}} as well as {{.ID}}.
func (i inspectContainer) Id() string { return i.ID } //nolint:revive // podman's template name

func toInspect(rt *runtime.Runtime, c *runtime.Container) inspectContainer {
	in := inspectContainer{
		ID: c.ID, Created: c.Created, Image: c.ImageID, ImageName: c.ImageName, Name: c.Name,
		RestartCount: c.State.RestartCount, Driver: "overlay", LogPath: rt.LogPath(c.ID),
		Mounts: []any{},
		// podman's fields, empty where there is no network (a template reads "", not
		// "<no value>").
		NetworkSettings: map[string]any{
			"Networks": map[string]any{}, "IPAddress": "", "Gateway": "", "IPPrefixLen": 0, "MacAddress": "",
			"EndpointID": "", "Bridge": "", "SandboxID": "", "SandboxKey": "",
		},
	}
	if len(c.Config.Args) > 0 {
		in.Path, in.Args = c.Config.Args[0], c.Config.Args[1:]
	}
	in.State = inspectState{
		Status: c.ShownStatus(), Running: c.ShownStatus() == runtime.StatusRunning, Paused: c.ShownStatus() == runtime.StatusPaused, Pid: c.State.Pid,
		ExitCode: c.State.ExitCode, Error: c.State.Error, StartedAt: c.State.StartedAt, FinishedAt: c.State.FinishedAt,
		Health: c.State.Health,
	}
	if in.State.Health == nil {
		// podman 4 shows an empty Health for a container without a healthcheck, so that
		// {{.State.Health.Status}} reads "" (a wait-for-healthy loop's first answer).
		in.State.Health = &runtime.HealthState{}
	}
	in.Config = inspectConfig{
		Hostname: c.Config.Hostname, User: c.Config.User, Env: c.Config.Env, Cmd: c.Config.Cmd,
		Image: c.ImageName, WorkingDir: c.Config.WorkingDir, Entrypoint: c.Config.Entrypoint,
		Labels: c.Labels, StopSignal: c.Config.StopSignal, Tty: c.Config.Tty, OpenStdin: c.Config.Interactive,
		StopTimeout: uint(c.StopTimeout() / time.Second),
	}
	if in.Config.Labels == nil {
		in.Config.Labels = map[string]string{}
	}
	in.Config.Annotations, in.Config.Timezone, in.Config.Umask = c.Config.Annotations, c.Config.Timezone, "0022"
	if in.Config.Annotations == nil {
		in.Config.Annotations = map[string]string{}
	}
	if c.Config.Umask != nil {
		in.Config.Umask = fmt.Sprintf("%04o", *c.Config.Umask)
	}
	in.HostConfig.RestartPolicy.Name = c.Config.Restart
	in.HostConfig.RestartPolicy.MaximumRetryCount = c.Config.RestartMaxRetries
	in.HostConfig.AutoRemove = c.Config.Remove
	n := c.Config.Network
	if n == nil {
		n = &netstack.Config{Mode: netstack.ModeNone}
	}
	in.HostConfig.NetworkMode = n.String()
	in.HostConfig.Dns, in.HostConfig.DnsSearch, in.HostConfig.DnsOptions = orEmpty(n.DNS), orEmpty(n.DNSSearch), orEmpty(n.DNSOptions)
	in.HostConfig.ExtraHosts = orEmpty(n.AddHosts)
	sec := c.Config.Security
	if sec == nil {
		sec = &runtime.SecurityConfig{}
	}
	for _, a := range sec.CapAdd {
		in.HostConfig.CapAdd = append(in.HostConfig.CapAdd, security.NormalizeCapability(a))
	}
	for _, d := range sec.CapDrop {
		in.HostConfig.CapDrop = append(in.HostConfig.CapDrop, security.NormalizeCapability(d))
	}
	in.HostConfig.CapAdd, in.HostConfig.CapDrop = orEmpty(in.HostConfig.CapAdd), orEmpty(in.HostConfig.CapDrop)
	in.HostConfig.Privileged, in.HostConfig.ReadonlyRootfs = sec.Privileged, sec.ReadOnly
	in.HostConfig.SecurityOpt = orEmpty(sec.SecurityOpt)
	in.HostConfig.ShmSize = sec.ShmSize
	if in.HostConfig.ShmSize == 0 {
		in.HostConfig.ShmSize = 64 << 20
	}
	in.HostConfig.Memory, in.HostConfig.NanoCpus, in.HostConfig.PidsLimit = sec.Memory, sec.NanoCPUs, sec.PidsLimit
	in.HostConfig.GroupAdd = orEmpty(c.Config.GroupAdd)
	in.HostConfig.Init = c.Config.InitPath != ""
	size := int64(runtime.DefaultLogMaxSize)
	if c.Config.LogMaxSize > 0 {
		size = c.Config.LogMaxSize
	}
	in.HostConfig.LogConfig = inspectLogConfig{Type: runtime.LogDriverFile, Path: in.LogPath, Size: units.HumanSize(float64(size))}
	if c.Config.LogDriver == runtime.LogDriverNone {
		in.HostConfig.LogConfig = inspectLogConfig{Type: runtime.LogDriverNone, Size: "0B"}
	}
	in.HostConfig.Ulimits = []inspectLimit{}
	for _, u := range sec.Ulimits {
		in.HostConfig.Ulimits = append(in.HostConfig.Ulimits, inspectLimit{Name: u.Type, Soft: u.Soft, Hard: u.Hard})
	}
	ports := map[string][]inspectPortBinding{}
	for _, m := range n.Ports {
		k := fmt.Sprintf("%d/%s", m.ContainerPort, m.Protocol)
		ports[k] = append(ports[k], inspectPortBinding{HostIP: m.HostIP, HostPort: strconv.Itoa(int(m.HostPort))})
	}
	in.HostConfig.PortBindings = ports
	in.NetworkSettings["Ports"] = withUnpublished(ports, c.Config.Expose, n.Mode)
	if n.Mode == netstack.ModeSlirp && c.State.Status == runtime.StatusRunning {
		in.NetworkSettings["IPAddress"] = netstack.ContainerIP
		in.NetworkSettings["Gateway"] = netstack.GatewayIP
		in.NetworkSettings["IPPrefixLen"] = 24
	}
	if n.Mode == netstack.ModeBridge {
		nets := map[string]any{}
		for _, ep := range n.Networks {
			bits := 0
			if p, err := netip.ParsePrefix(ep.Subnet); err == nil {
				bits = p.Bits()
			}
			nets[ep.Network] = map[string]any{
				"NetworkID": ep.Network, "IPAddress": ep.IP, "Gateway": ep.Gateway, "IPPrefixLen": bits,
				"Aliases": append([]string{c.ShortID()}, ep.Aliases...),
			}
		}
		in.NetworkSettings["Networks"] = nets
	}
	return in
}

// withUnpublished is ports with the exposed ports that are not published, each null, as
// podman shows them in NetworkSettings.Ports; not with the host's network or another
// container's, where the container has no ports of its own.
func withUnpublished(published map[string][]inspectPortBinding, exposed []string, mode string) map[string][]inspectPortBinding {
	if len(exposed) == 0 || mode == netstack.ModeHost || mode == netstack.ModeContainer {
		return published
	}
	out := maps.Clone(published)
	if out == nil {
		out = map[string][]inspectPortBinding{}
	}
	for _, p := range exposed {
		if !strings.Contains(p, "/") {
			p += "/tcp"
		}
		if _, ok := out[p]; !ok {
			out[p] = nil
		}
	}
	return out
}

func inspectCmd() *cli.Command { return inspectCmdFor("all") }

// inspectCmdFor is inspect looking for kind by default: "all" at the top, "container" as
// `den container inspect`.
func inspectCmdFor(kind string) *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "show the configuration and state of containers or images as JSON",
		ArgsUsage: "NAME...",
		Description: `Prints podman's JSON shape for containers, or renders --format for each. A name no
container has is looked up as an image, as in podman; --type container or --type image
looks for one kind only.

Examples:
   den inspect web
   den inspect --format '{{.State.Status}} {{.State.ExitCode}}' web
   den inspect -f '{{.State.Pid}}' web
   den inspect --type image busybox`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Usage: "Go template or \"json\""},
			&cli.StringFlag{Name: "type", Aliases: []string{"t"}, Value: kind, Usage: "container, image or all"},
			&cli.BoolFlag{Name: "size", Aliases: []string{"s"}, Usage: "show a container's SizeRw and SizeRootFs, measured in den's user namespace"},
			latestFlag,
		},
		Action: func(c *cli.Context) error {
			if !named(c) {
				return withCode(125, errors.New("no container or image given: den inspect NAME..."))
			}
			// Sizes are measured inside den's user namespace; plain inspect stays out of it.
			if c.Bool("size") {
				return inUserNS(inspectAction)(c)
			}
			return inspectAction(c)
		},
	}
}

// inspectAction prints what inspect names; in den's user namespace with --size.
func inspectAction(c *cli.Context) error {
	kind := c.String("type")
	if err := validInspectType(kind); err != nil {
		return withCode(125, err)
	}
	e, err := newEnv(c)
	if err != nil {
		return err
	}
	refs, err := containerRefs(c, e.rt)
	if err != nil {
		return err
	}
	var out []any
	var first error
	for _, ref := range refs {
		if kind != "image" {
			ctr, err := e.rt.Lookup(ref)
			if err == nil && c.Bool("size") {
				var sizes map[string]runtime.ContainerSize
				if sizes, err = e.rt.Sizes([]*runtime.Container{ctr}); err == nil {
					in := toInspect(e.rt, ctr)
					rw, root := sizes[ctr.ID].Rw, sizes[ctr.ID].RootFs
					in.SizeRw, in.SizeRootFs = &rw, &root
					out = append(out, in)
					continue
				}
			}
			if err == nil {
				out = append(out, toInspect(e.rt, ctr))
				continue
			}
			if kind == "container" || !errors.Is(err, runtime.ErrNotFound) {
				first = firstErr(first, withCode(125, err))
				continue
			}
		}
		ds, err := describeImages(e, []string{ref}, func(ref string, err error) {
			if kind == "all" && errors.Is(err, image.ErrNotFound) {
				err = fmt.Errorf("no such container or image: %s", ref)
			}
			first = firstErr(first, withCode(125, err))
		})
		if err != nil {
			return err
		}
		for _, d := range ds {
			out = append(out, toInspectImage(d))
		}
	}
	if err := printInspected(c, c.String("format"), out); err != nil {
		return err
	}
	return first
}

// containerCmd is podman's "container" noun, holding the same verbs.
func containerCmd() *cli.Command {
	subs := []*cli.Command{
		runCmd(), createCmd(), startCmd(), stopCmd(), killCmd(), waitCmd(), restartCmd(),
		logsCmd(), inspectCmdFor("container"), existsCmd(), rmCmd(), psCmd(), execCmd(), attachCmd(), topCmd(),
		renameCmd(), pauseCmd(), unpauseCmd(), containerPruneCmd(), cpCmd(), commitCmd(), exportCmd(), portCmd(),
		mountCmd(), umountCmd(),
	}
	for _, s := range subs {
		s.OnUsageError = usageError
		if namespaceCommands[s.Name] {
			s.Action = inUserNS(s.Action)
		}
	}
	return &cli.Command{
		Name:        "container",
		Usage:       "manage containers",
		Subcommands: subs,
	}
}
