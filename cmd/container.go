package cmd

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/den-project/den/netstack"
	"github.com/den-project/den/netstack/etc"
	"github.com/den-project/den/netstack/port"
	"github.com/den-project/den/runtime"
	"github.com/den-project/den/runtime/security"
	"github.com/den-project/den/runtime/userns"
	"github.com/den-project/den/store/image"
	units "github.com/docker/go-units"
	"github.com/urfave/cli/v2"
)

// createFlags are shared by run and create.
func createFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "name", Usage: "assign a name to the container"},
		&cli.BoolFlag{Name: "replace", Usage: "with --name: remove the container of that name first, as rm -f does"},
		&cli.StringFlag{Name: "cidfile", Usage: "write the container's ID to `FILE`, which must not exist yet (rm removes it with the container)"},
		&cli.StringFlag{Name: "pull", Value: runtime.PullMissing, Usage: "pull the image: missing (when it is not in storage), always, newer or never"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress of the image's pull"},
		&cli.StringFlag{Name: "platform", Usage: "pull `OS/ARCH[/VARIANT]` of a multi-architecture image"},
		&cli.StringFlag{Name: "arch", Usage: "pull this architecture of a multi-architecture image"},
		&cli.StringFlag{Name: "os", Usage: "pull this operating system of a multi-architecture image"},
		&cli.StringFlag{Name: "variant", Usage: "pull this architecture variant (e.g. v8) of a multi-architecture image"},
		credsFlag,
		&cli.BoolFlag{Name: "interactive", Aliases: []string{"i"}, Usage: "keep stdin open"},
		&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a pseudo-terminal"},
		&cli.BoolFlag{Name: "rm", Usage: "remove the container when it exits"},
		&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set an environment variable (NAME=VALUE, or NAME to copy it)"},
		&cli.StringSliceFlag{Name: "env-file", Usage: "read environment variables from a file"},
		&cli.StringFlag{Name: "workdir", Aliases: []string{"w"}, Usage: "working directory inside the container"},
		&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "USER[:GROUP] to run as, by name or number"},
		&cli.StringFlag{Name: "entrypoint", Usage: "override the image's entrypoint (a command or a JSON array)"},
		&cli.StringFlag{Name: "hostname", Usage: "container host name, also -h as in podman (default: the short container id)"},
		&cli.StringSliceFlag{Name: "label", Aliases: []string{"l"}, Usage: "set a label (KEY=VALUE)"},
		&cli.StringSliceFlag{Name: "label-file", Usage: "read labels from a file of KEY=VALUE lines (--label wins)"},
		&cli.StringSliceFlag{Name: "annotation", Usage: "add an OCI annotation KEY=VALUE to the container's spec"},
		&cli.BoolFlag{Name: "env-host", Usage: "give the container den's environment, over the image's (--env-file's and --env's win)"},
		&cli.StringFlag{Name: "umask", Usage: "the umask of the container's processes, octal (default 0022)"},
		&cli.StringSliceFlag{Name: "sysctl", Usage: "set a sysctl of the container's namespaces, NAME=VALUE: kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*, net.*"},
		&cli.StringFlag{Name: "log-driver", Value: runtime.LogDriverFile, Usage: "k8s-file, the log den logs reads, or none"},
		&cli.StringSliceFlag{Name: "log-opt", Usage: "max-size=SIZE: rotate the log past this size (default 16m)"},
		&cli.StringFlag{Name: "tz", Usage: "the container's time zone: a name in /usr/share/zoneinfo (Europe/Paris, UTC) or local, the host's"},
		&cli.StringFlag{Name: "health-cmd", Usage: "command that checks the container's health (shell form or JSON array)"},
		&cli.DurationFlag{Name: "health-interval", Value: 30 * time.Second, Usage: "time between health checks"},
		&cli.IntFlag{Name: "health-retries", Value: 3, Usage: "failures in a row that make the container unhealthy"},
		&cli.DurationFlag{Name: "health-timeout", Value: 30 * time.Second, Usage: "longest a check may run"},
		&cli.DurationFlag{Name: "health-start-period", Usage: "time after start during which failures do not count"},
		&cli.StringFlag{Name: "restart", Value: "no", Usage: "restart policy: no, on-failure[:N], always, unless-stopped"},
		&cli.StringFlag{Name: "stop-signal", Usage: "signal that stop sends first (default TERM)"},
		&cli.UintFlag{Name: "stop-timeout", Value: 10, Usage: "seconds stop and rm -f wait for the container to exit before killing it"},
		&cli.StringFlag{Name: "network", Aliases: []string{"net"}, Value: "slirp4netns", Usage: "network mode: slirp4netns[:allow_host_loopback=true], none, host, container:NAME, or the NAME of a network (den network create)"},
		&cli.StringSliceFlag{Name: "network-alias", Usage: "another name of the container on its network (with --network NAME)"},
		&cli.StringFlag{Name: "ip", Usage: "the container's IPv4 address on its network (with --network NAME)"},
		&cli.StringSliceFlag{Name: "publish", Aliases: []string{"p"}, Usage: "publish a container port on the host: [[IP:][HOSTPORT]:]CONTAINERPORT[/tcp|/udp], ports may be ranges"},
		&cli.BoolFlag{Name: "publish-all", Aliases: []string{"P"}, Usage: "publish the image's EXPOSE ports and those of --expose on random host ports"},
		&cli.StringSliceFlag{Name: "expose", Usage: "expose a port or a range, PORT[-END][/tcp|/udp], which --publish-all publishes as the image's EXPOSE ports"},
		&cli.StringSliceFlag{Name: "dns", Usage: "nameserver for the container's /etc/resolv.conf"},
		&cli.StringSliceFlag{Name: "dns-search", Usage: "search domain for /etc/resolv.conf (\".\" for none)"},
		&cli.StringSliceFlag{Name: "dns-option", Usage: "option for /etc/resolv.conf"},
		&cli.StringSliceFlag{Name: "add-host", Usage: "add a NAME:IP line to /etc/hosts"},
		&cli.BoolFlag{Name: "no-hosts", Usage: "leave the image's /etc/hosts as it is"},
		&cli.StringSliceFlag{Name: "volume", Aliases: []string{"v"}, Usage: "mount a volume or host path: NAME:/PATH[:OPTS], /HOST:/PATH[:OPTS] or /PATH (anonymous); OPTS: ro, rw, U, nocopy, z, Z"},
		&cli.StringSliceFlag{Name: "mount", Usage: "mount: type=bind|volume|tmpfs,source=...,target=...[,readonly][,volume-nocopy][,tmpfs-size=N]"},
		&cli.StringSliceFlag{Name: "tmpfs", Usage: "mount a tmpfs: /PATH[:size=64m,mode=1777,...]"},
		&cli.StringSliceFlag{Name: "volumes-from", Usage: "mount the volumes of another container: CTR[:ro|rw]"},
		&cli.StringSliceFlag{Name: "cap-add", Usage: "add a capability to the default set (NET_ADMIN, or ALL)"},
		&cli.StringSliceFlag{Name: "cap-drop", Usage: "drop a capability from the default set (CHOWN, or ALL)"},
		&cli.BoolFlag{Name: "privileged", Usage: "every capability, no seccomp filter, no hidden kernel files (rootless: bounded by den's user namespace; den as root: the host's root)"},
		&cli.StringSliceFlag{Name: "security-opt", Usage: "no-new-privileges, seccomp=unconfined (label= and apparmor= are accepted and mean nothing)"},
		&cli.BoolFlag{Name: "read-only", Usage: "read-only root file system, with tmpfs on /tmp, /var/tmp and /run"},
		&cli.StringFlag{Name: "shm-size", Usage: "size of /dev/shm (e.g. 256m; default 64m)"},
		&cli.StringSliceFlag{Name: "ulimit", Usage: "resource limit NAME=SOFT[:HARD] (e.g. nofile=1024:2048)"},
		&cli.StringSliceFlag{Name: "group-add", Usage: "add a supplementary group: a gid or a name from the image's /etc/group"},
		&cli.StringSliceFlag{Name: "device", Usage: "give the container a host device: HOST[:CONTAINER][:PERMS] (rootless: bound from the host)"},
		&cli.BoolFlag{Name: "init", Usage: "run an init (catatonit) as the first process, to pass signals on and reap zombies"},
		&cli.StringFlag{Name: "init-path", Usage: "the init program --init binds in (default: the host's catatonit)"},
		&cli.StringFlag{Name: "memory", Aliases: []string{"m"}, Usage: "memory limit (e.g. 512m; den as root: a cgroup limit)"},
		&cli.Float64Flag{Name: "cpus", Usage: "CPUs the container may use (e.g. 1.5; den as root: a CFS quota)"},
		&cli.Int64Flag{Name: "pids-limit", Usage: "most processes the container may have (den as root: a cgroup limit)"},
	}, registryFlags()...)
}

// securityOptions reads --cap-add, --cap-drop, --privileged, --security-opt, --read-only,
// --shm-size, --ulimit, --memory, --cpus and --pids-limit, checked before any namespace work;
// nil when none is given.
func securityOptions(c *cli.Context) (*runtime.SecurityConfig, error) {
	s := &runtime.SecurityConfig{
		CapAdd: c.StringSlice("cap-add"), CapDrop: c.StringSlice("cap-drop"), Privileged: c.Bool("privileged"),
		SecurityOpt: c.StringSlice("security-opt"), ReadOnly: c.Bool("read-only"),
	}
	if _, err := security.ContainerCapabilities(s.CapAdd, s.CapDrop, s.Privileged); err != nil {
		return nil, err
	}
	if _, err := security.ParseSecurityOpts(s.SecurityOpt); err != nil {
		return nil, err
	}
	var err error
	if v := c.String("shm-size"); v != "" {
		if s.ShmSize, err = units.RAMInBytes(v); err != nil || s.ShmSize <= 0 {
			return nil, fmt.Errorf("--shm-size %q: give a size such as 64m or 1g", v)
		}
	}
	if v := c.String("memory"); v != "" {
		if s.Memory, err = units.RAMInBytes(v); err != nil || s.Memory <= 0 {
			return nil, fmt.Errorf("--memory %q: give a size such as 512m or 2g", v)
		}
	}
	if c.IsSet("cpus") {
		v := c.Float64("cpus")
		// Below 0.01 CPUs the CFS quota would be under the kernel's 1 ms minimum.
		if math.IsNaN(v) || v < 0.01 || v > 1024 {
			return nil, fmt.Errorf("--cpus %v: give a number of CPUs from 0.01 to 1024, such as 0.5 or 2", v)
		}
		s.NanoCPUs = int64(v * 1e9)
	}
	// -1 is podman's spelling of no limit.
	if c.IsSet("pids-limit") && c.Int64("pids-limit") != -1 {
		if s.PidsLimit = c.Int64("pids-limit"); s.PidsLimit <= 0 {
			return nil, fmt.Errorf("--pids-limit %d: give a positive number, or -1 for no limit", s.PidsLimit)
		}
	}
	for _, u := range c.StringSlice("ulimit") {
		l, err := security.ParseUlimit(u)
		if err != nil {
			return nil, err
		}
		s.Ulimits = append(s.Ulimits, l)
	}
	if reflect.ValueOf(*s).IsZero() {
		return nil, nil
	}
	return s, nil
}

// pullPolicy is run's and create's --pull, read before any namespace work.
func pullPolicy(c *cli.Context) (string, error) {
	p, err := runtime.ParsePullPolicy(c.String("pull"))
	if err != nil {
		return "", withCode(125, err)
	}
	return p, nil
}

// createPulling creates the container of o, pulling its image by policy: first with always
// and newer, and with missing (the default) only when Create finds the image not in storage,
// so that a stored image costs no lookup more. o.Image becomes the id of what was pulled.
func createPulling(c *cli.Context, e *env, o *runtime.CreateOptions, policy string) (*runtime.Container, error) {
	ctx := context.Background()
	pull := func() error {
		id, err := e.rt.PullForRun(ctx, o.Image, globalArgs(c), pullArgs(c), os.Stderr)
		if err != nil {
			return withCode(125, err)
		}
		if id != "" {
			o.Image = id
		}
		return nil
	}
	if policy == runtime.PullAlways || policy == runtime.PullNewer {
		// What Create would refuse is refused before a pull that takes minutes.
		if err := e.rt.CheckLimits(o.Security); err != nil {
			return nil, err
		}
		if err := pull(); err != nil {
			return nil, err
		}
	}
	ctr, err := e.rt.Create(ctx, *o)
	if err != nil && policy == runtime.PullMissing && errors.Is(err, image.ErrNotFound) {
		if err := pull(); err != nil {
			return nil, err
		}
		ctr, err = e.rt.Create(ctx, *o)
	}
	return ctr, err
}

// globalArgs are den's own flags given before the command that a child den must share: the
// state directories.
func globalArgs(c *cli.Context) []string {
	var args []string
	for _, name := range []string{"root", "runroot"} {
		if v := c.String(name); v != "" {
			args = append(args, "--"+name+"="+v)
		}
	}
	return args
}

// pullArgs are the flags of run and create that den pull takes, for the pull they may do.
func pullArgs(c *cli.Context) []string {
	var args []string
	for _, name := range []string{"tls-verify", "cert-dir", "authfile", "creds", "platform", "arch", "os", "variant"} {
		if c.IsSet(name) {
			args = append(args, fmt.Sprintf("--%s=%v", name, c.Value(name)))
		}
	}
	if c.Bool("quiet") {
		args = append(args, "--quiet")
	}
	return args
}

// mountOptions turns -v, --mount and --tmpfs into mounts, in podman's order.
func mountOptions(c *cli.Context) ([]runtime.Mount, error) {
	var out []runtime.Mount
	for _, p := range []struct {
		flag  string
		parse func(string) (runtime.Mount, error)
	}{{"volume", runtime.ParseVolume}, {"mount", runtime.ParseMountFlag}, {"tmpfs", runtime.ParseTmpfs}} {
		for _, v := range c.StringSlice(p.flag) {
			m, err := p.parse(v)
			if err != nil {
				return nil, err
			}
			out = append(out, m)
		}
	}
	return out, nil
}

// networkOptions reads the network flags.
func networkOptions(c *cli.Context) (netstack.Config, error) {
	n, err := netstack.ParseMode(c.String("network"))
	if err != nil {
		return n, err
	}
	if n.Ports, err = port.ParseAll(c.StringSlice("publish")); err != nil {
		return n, err
	}
	for _, ip := range c.StringSlice("dns") {
		if _, err := netip.ParseAddr(ip); err != nil {
			return n, fmt.Errorf("--dns %q is not an IP address", ip)
		}
	}
	for _, h := range c.StringSlice("add-host") {
		if _, err := etc.ParseAddHost(h); err != nil {
			return n, err
		}
	}
	n.DNS, n.DNSSearch, n.DNSOptions = c.StringSlice("dns"), c.StringSlice("dns-search"), c.StringSlice("dns-option")
	n.AddHosts = c.StringSlice("add-host")
	aliases, ip := c.StringSlice("network-alias"), c.String("ip")
	if (len(aliases) > 0 || ip != "") && n.Mode != netstack.ModeBridge {
		return n, fmt.Errorf("--ip and --network-alias need a user-defined network: add --network NAME (see den network create)")
	}
	if n.Mode == netstack.ModeBridge {
		n.Networks[0].Aliases, n.Networks[0].IP = aliases, ip
	}
	return n, nil
}

func createOptions(c *cli.Context) (runtime.CreateOptions, error) {
	if c.NArg() < 1 {
		return runtime.CreateOptions{}, withCode(125, fmt.Errorf("an image name is required: den %s [OPTIONS] IMAGE [COMMAND [ARG...]]", c.Command.Name))
	}
	o := runtime.CreateOptions{
		Name:        c.String("name"),
		Image:       c.Args().First(),
		Args:        c.Args().Tail(),
		Env:         c.StringSlice("env"),
		EnvFiles:    c.StringSlice("env-file"),
		WorkingDir:  c.String("workdir"),
		User:        c.String("user"),
		Hostname:    c.String("hostname"),
		Tty:         c.Bool("tty"),
		Interactive: c.Bool("interactive"),
		Remove:      c.Bool("rm"),
		Replace:     c.Bool("replace"),
	}
	if o.Replace && o.Name == "" {
		return o, withCode(125, errors.New("--replace needs --name: it replaces the container of that name"))
	}
	if f := c.String("cidfile"); f != "" {
		abs, err := filepath.Abs(f)
		if err != nil {
			return o, withCode(125, fmt.Errorf("--cidfile %s: %w", f, err))
		}
		// Checked before a pull; Create makes the file, refusing one made since.
		if _, err := os.Lstat(abs); err == nil {
			return o, withCode(125, fmt.Errorf("--cidfile %s exists: another container may use it; remove it or give another file", f))
		}
		if fi, err := os.Stat(filepath.Dir(abs)); err != nil || !fi.IsDir() {
			return o, withCode(125, fmt.Errorf("--cidfile %s: there is no directory %s to write it in", f, filepath.Dir(abs)))
		}
		o.CIDFile = abs
	}
	mounts, err := mountOptions(c)
	if err != nil {
		return o, withCode(125, err)
	}
	o.Mounts, o.VolumesFrom = mounts, c.StringSlice("volumes-from")
	if o.Network, err = networkOptions(c); err != nil {
		return o, withCode(125, err)
	}
	o.PublishAll = c.Bool("publish-all")
	for _, v := range c.StringSlice("expose") {
		ps, err := port.ParseExpose(v)
		if err != nil {
			return o, withCode(125, err)
		}
		o.Expose = append(o.Expose, ps...)
	}
	if o.Restart, o.RestartMaxRetries, err = runtime.ParseRestartPolicy(c.String("restart")); err != nil {
		return o, withCode(125, err)
	}
	if o.Security, err = securityOptions(c); err != nil {
		return o, withCode(125, err)
	}
	for _, g := range c.StringSlice("group-add") {
		if g == "keep-groups" {
			// crun's annotation keeps the caller's own groups; runc, den's runtime, has none.
			return o, withCode(125, errors.New("--group-add keep-groups: den cannot keep your own groups in a container; give gids or group names"))
		}
		if strings.TrimSpace(g) == "" {
			return o, withCode(125, errors.New("--group-add \"\": give a gid or a group name"))
		}
	}
	o.GroupAdd = c.StringSlice("group-add")
	for _, dv := range c.StringSlice("device") {
		if _, err := security.ParseDevice(dv); err != nil {
			return o, withCode(125, err)
		}
	}
	o.Devices = c.StringSlice("device")
	if c.Bool("init") {
		if o.InitPath, err = runtime.FindInit(c.String("init-path")); err != nil {
			return o, withCode(125, err)
		}
	}
	if c.IsSet("stop-timeout") {
		t := c.Uint("stop-timeout")
		o.StopTimeout = &t
	}
	if o.StopSignal = c.String("stop-signal"); o.StopSignal != "" {
		if _, err := runtime.ParseSignal(o.StopSignal); err != nil {
			return o, withCode(125, fmt.Errorf("--stop-signal: %w", err))
		}
	}
	if hc := c.String("health-cmd"); hc != "" {
		test, err := runtime.ParseHealthCmd(hc)
		if err != nil {
			return o, withCode(125, err)
		}
		if test != nil {
			if c.Int("health-retries") < 1 || c.Duration("health-timeout") <= 0 || c.Duration("health-interval") < 0 {
				return o, withCode(125, errors.New("--health-retries must be at least 1, --health-timeout positive and --health-interval not negative"))
			}
			o.Health = &runtime.HealthConfig{
				Test: test, Interval: c.Duration("health-interval"), Timeout: c.Duration("health-timeout"),
				StartPeriod: c.Duration("health-start-period"), Retries: c.Int("health-retries"),
			}
		}
	}
	if o.Restart != "no" && o.Remove {
		return o, withCode(125, errors.New("--restart and --rm cannot be used together"))
	}
	if c.IsSet("entrypoint") {
		ep, err := runtime.ParseEntrypoint(c.String("entrypoint"))
		if err != nil {
			return o, withCode(125, err)
		}
		o.Entrypoint = &ep
	}
	for _, f := range c.StringSlice("label-file") {
		ls, err := runtime.ParseLabelFile(f)
		if err != nil {
			return o, withCode(125, err)
		}
		if o.Labels == nil {
			o.Labels = map[string]string{}
		}
		maps.Copy(o.Labels, ls)
	}
	if ls := c.StringSlice("label"); len(ls) > 0 {
		if o.Labels == nil {
			o.Labels = map[string]string{}
		}
		for _, l := range ls {
			k, v, _ := strings.Cut(l, "=")
			if k == "" {
				return o, withCode(125, fmt.Errorf("--label %q: use KEY=VALUE", l))
			}
			o.Labels[k] = v
		}
	}
	if err := moreCreateOptions(c, &o); err != nil {
		return o, withCode(125, err)
	}
	return o, nil
}

// moreCreateOptions reads --env-host, --umask, --sysctl, --tz, --annotation, --log-driver,
// --log-opt and --no-hosts into o, whose network is read already.
func moreCreateOptions(c *cli.Context, o *runtime.CreateOptions) error {
	o.EnvHost = c.Bool("env-host")
	if v := c.String("umask"); v != "" {
		m, err := security.ParseUmask(v)
		if err != nil {
			return err
		}
		o.Umask = &m
	}
	own := o.Network.Mode != netstack.ModeHost && o.Network.Mode != netstack.ModeContainer
	for _, s := range c.StringSlice("sysctl") {
		k, v, err := security.ParseSysctl(s, own)
		if err != nil {
			return err
		}
		if o.Sysctls == nil {
			o.Sysctls = map[string]string{}
		}
		o.Sysctls[k] = v
	}
	if tz := c.String("tz"); tz != "" {
		if _, err := security.TimezoneFile(tz); err != nil {
			return err
		}
		o.Timezone = tz
	}
	for _, a := range c.StringSlice("annotation") {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return fmt.Errorf("--annotation %q: use KEY=VALUE", a)
		}
		if o.Annotations == nil {
			o.Annotations = map[string]string{}
		}
		o.Annotations[k] = v
	}
	drv, err := runtime.ParseLogDriver(c.String("log-driver"))
	if err != nil {
		return err
	}
	if drv != runtime.LogDriverFile {
		o.LogDriver = drv
	}
	for _, v := range c.StringSlice("log-opt") {
		if o.LogMaxSize, err = runtime.ParseLogOpt(v); err != nil {
			return err
		}
	}
	if c.Bool("no-hosts") {
		if len(o.Network.AddHosts) > 0 {
			return errors.New("--no-hosts and --add-host cannot be used together: --no-hosts leaves the image's /etc/hosts as it is")
		}
		o.Network.NoHosts = true
	}
	return nil
}

func stdio() runtime.Stdio {
	return runtime.Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}
}

func runCmd() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "run a command in a new container",
		ArgsUsage: "IMAGE [COMMAND [ARG...]]",
		Description: `Creates a container from IMAGE and runs it in the foreground, returning the
command's exit code (125 for den's own errors, 126 when the command cannot be invoked,
127 when it is not found). An image not in storage is pulled first (--pull missing, the
default), its progress on stderr.

Examples:
   den run --rm busybox echo hello
   den run -d --name web --restart on-failure:3 busybox httpd -f
   den run -d --replace --name web --cidfile web.cid busybox httpd -f
   den run -it --name box busybox sh
   den run --rm -e GREETING=hi -w /tmp -u 1000 busybox env`,
		Flags: append(createFlags(),
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "run in the background under a monitor and print the container id"}),
		UseShortOptionHandling: true,
		Action: func(c *cli.Context) error {
			o, err := createOptions(c)
			if err != nil {
				return err
			}
			// A detached run creates its container's storage as it starts it, beside the
			// container's start-up (runtime's early start). Not a run in the foreground: 50
			// of those at once took 8% longer so, and one alone gained 1.5 ms.
			o.DeferStorage = c.Bool("detach")
			policy, err := pullPolicy(c)
			if err != nil {
				return err
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			defer e.close()
			ctx := context.Background()
			// A detached container is started by this command, which then becomes its
			// monitor (runtime.StartHeld), or by a monitor that starts while the container
			// is created.
			var mon *runtime.Monitor
			hold := false
			if c.Bool("detach") {
				if hold = !userns.HasPremonitor() && runtime.CanHold(o.Network); !hold {
					if mon, err = e.rt.SpawnMonitor(); err != nil {
						return err
					}
					o.ID = mon.ID
				} else {
					e.rt.OpenStoreAhead()
				}
				o.SyncLater = true
				o.EventWithStart = hold
			}
			ctr, err := createPulling(c, e, &o, policy)
			if err != nil {
				if mon != nil {
					mon.Abandon()
				}
				return err
			}
			if c.Bool("detach") {
				// The record is synced while the container starts, from here or its monitor.
				var syncErr error
				sync := func() { syncErr = e.rt.SyncRecord(ctr) }
				var held *runtime.Held
				if hold {
					held, err = e.rt.StartHeld(ctr, sync)
				} else {
					err = mon.Start(ctr, sync)
				}
				if err != nil {
					if o.Remove || errors.Is(err, runtime.ErrCreatingStorage) {
						_, _ = e.rt.RemoveWithVolumes(ctx, ctr.ID, true, false, 0)
					}
					return err
				}
				fmt.Fprintln(c.App.Writer, ctr.ID)
				if held != nil {
					// After the answer, on the main thread (Run): the container's parent thread.
					afterAnswer = append(afterAnswer, held.Become)
					// Become closes the runtime first: what it closes (the store, the
					// files the start kept from being freed) is nobody's wait then.
					e.closeLater = true
				}
				if syncErr != nil {
					return withCode(125, fmt.Errorf("container %s runs, but its record may not survive a power loss: %w", ctr.Name, syncErr))
				}
				return nil
			}
			// Not with stdin or a terminal: den would go on reading the user's keys after
			// the answer.
			if o.Remove && !o.Interactive && !o.Tty {
				e.answerEarly()
			}
			code, err := e.rt.RunAttached(ctx, ctr, stdio())
			if err != nil {
				if o.Remove || errors.Is(err, runtime.ErrCreatingStorage) {
					_, _ = e.rt.RemoveWithVolumes(ctx, ctr.ID, true, false, 0)
				}
				return withCode(code, err)
			}
			return exitCode(code)
		},
	}
}

func createCmd() *cli.Command {
	return &cli.Command{
		Name:      "create",
		Usage:     "create a container without starting it",
		ArgsUsage: "IMAGE [COMMAND [ARG...]]",
		Description: `Creates a container and prints its id. Start it with "den start -a".

An image not in storage is pulled first (--pull missing, the default), as den pull would.

Examples:
   den create --name web busybox httpd -f
   den create -it busybox sh
   den create --pull always --tls-verify=false localhost:5000/app`,
		Flags:                  createFlags(),
		UseShortOptionHandling: true,
		Action: func(c *cli.Context) error {
			o, err := createOptions(c)
			if err != nil {
				return err
			}
			policy, err := pullPolicy(c)
			if err != nil {
				return err
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			defer e.rt.Close()
			ctr, err := createPulling(c, e, &o, policy)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.App.Writer, ctr.ID)
			return nil
		},
	}
}

func startCmd() *cli.Command {
	return &cli.Command{
		Name:      "start",
		Usage:     "start a created or exited container",
		ArgsUsage: "CONTAINER...",
		Description: `Starts containers in the background under their monitors and prints their
names. With -a, starts one in the foreground with its output attached and returns its exit
code. --filter starts those of the containers it selects (ps --filter's keys) that are not
running.

Examples:
   den start web
   den start -a job
   den start -ai box
   den start --filter label=app=web`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "attach", Aliases: []string{"a"}, Usage: "attach stdout and stderr"},
			&cli.BoolFlag{Name: "interactive", Aliases: []string{"i"}, Usage: "attach stdin"},
			latestFlag,
			filterFlag(true),
		},
		UseShortOptionHandling: true,
		Action: func(c *cli.Context) error {
			if err := cidfileAlone(c); err != nil {
				return err
			}
			if filtered(c) {
				if c.Bool("attach") {
					return withCode(125, errors.New("--filter starts containers in the background: not with -a"))
				}
				if _, err := parseFilter(c); err != nil {
					return err
				}
			} else if !named(c) {
				return withCode(125, errors.New("no container given: den start [-a] CONTAINER..."))
			}
			if c.Bool("attach") && c.NArg() > 1 {
				return withCode(125, errors.New("den start -a takes exactly one container"))
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			defer e.rt.Close()
			var refs []string
			if filtered(c) {
				// Those that run already are left as they are.
				refs, err = filteredWhere(c, e.rt, func(ctr *runtime.Container) bool { return ctr.State.Status != runtime.StatusRunning })
			} else {
				refs, err = containerRefs(c, e.rt)
			}
			if err != nil {
				return err
			}
			if !c.Bool("attach") {
				return forEachOf(c, refs, func(ref string) error {
					ctr, err := e.rt.Lookup(ref)
					if err != nil {
						return err
					}
					return e.rt.StartDetached(ctr)
				})
			}
			ctr, err := e.rt.Lookup(refs[0])
			if err != nil {
				return withCode(125, err)
			}
			ctr.Config.Interactive = ctr.Config.Interactive || c.Bool("interactive")
			in := stdio()
			if !c.Bool("interactive") && !ctr.Config.Tty {
				in.In = nil
			}
			code, err := e.rt.RunAttached(context.Background(), ctr, in)
			if err != nil {
				return withCode(code, err)
			}
			return exitCode(code)
		},
	}
}

// psRow is one line of `den ps`, with podman's --format field names.
type psRow struct {
	ID, Image, ImageID, Command, Names, Status, State, Ports string
	CreatedHuman, CreatedAt, RunningFor                      string
	Created                                                  int64
	Pid, ExitCode                                            int
	Exited                                                   bool
	AutoRemove                                               bool
	Labels                                                   map[string]string
	StartedAt, ExitedAt                                      int64
	// Size is --size's "RW (virtual ROOTFS)".
	Size string
}

// Cell gives the fields of ps's default table.
func (r psRow) Cell(field string) (string, bool) {
	switch field {
	case "ID":
		return r.ID, true
	case "Image":
		return r.Image, true
	case "Command":
		return r.Command, true
	case "CreatedHuman":
		return r.CreatedHuman, true
	case "Status":
		return r.Status, true
	case "Ports":
		return r.Ports, true
	case "Names":
		return r.Names, true
	}
	return "", false
}

// psJSON is podman's JSON shape for ps.
type psJSON struct {
	AutoRemove bool              `json:"AutoRemove"`
	Command    []string          `json:"Command"`
	CreatedAt  string            `json:"CreatedAt"`
	Exited     bool              `json:"Exited"`
	ExitedAt   int64             `json:"ExitedAt"`
	ExitCode   int               `json:"ExitCode"`
	ID         string            `json:"Id"`
	Image      string            `json:"Image"`
	ImageID    string            `json:"ImageID"`
	Labels     map[string]string `json:"Labels"`
	Names      []string          `json:"Names"`
	Pid        int               `json:"Pid"`
	StartedAt  int64             `json:"StartedAt"`
	State      string            `json:"State"`
	Status     string            `json:"Status"`
	Created    int64             `json:"Created"`
	Size       *psSize           `json:"Size,omitempty"`
}

// psSize is podman's Size of ps --size's JSON.
type psSize struct {
	RootFsSize int64 `json:"RootFsSize"`
	RwSize     int64 `json:"RwSize"`
}

func statusText(c *runtime.Container) string {
	switch c.ShownStatus() {
	case runtime.StatusPaused:
		return "Paused"
	case runtime.StatusRunning:
		if c.State.Health != nil {
			return "Up " + humanDuration(time.Since(c.State.StartedAt)) + " (" + c.State.Health.Status + ")"
		}
		return "Up " + humanDuration(time.Since(c.State.StartedAt))
	case runtime.StatusExited:
		return fmt.Sprintf("Exited (%d) %s", c.State.ExitCode, humanAgo(c.State.FinishedAt))
	}
	return strings.ToUpper(c.State.Status[:1]) + c.State.Status[1:]
}

func psCmd() *cli.Command {
	return &cli.Command{
		Name:    "ps",
		Aliases: []string{"list", "ls"},
		Usage:   "list containers",
		Description: `Lists running containers, or all with -a. Filters: status=created|running|paused|exited,
name=REGEXP, id=PREFIX, label=KEY[=VALUE], ancestor=IMAGE, exited=CODE,
health=healthy|unhealthy|starting|none, before=CONTAINER, since=CONTAINER, until=TIME (an
RFC 3339 time, a date, unix seconds or a duration ago), volume=SOURCE[:DESTINATION] (a
volume's name or a bind's host path) and network=NAME (or slirp4netns, none, host); values
of one key match if any does (label: if all do), and every key given must match. A status
filter, -n and -l look at containers in every state. --size adds each container's size,
which den measures inside its user namespace, as system df does.

Examples:
   den ps -a
   den ps -a --format '{{.Names}} {{.Status}}'
   den ps -aq
   den ps --filter status=exited --filter ancestor=busybox
   den ps -a --filter since=web --filter health=none
   den ps -n 3
   den ps -as`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "show all containers, not only running ones"},
			&cli.StringSliceFlag{Name: "filter", Aliases: []string{"f"}, Usage: "show only containers matching KEY=VALUE"},
			&cli.IntFlag{Name: "last", Aliases: []string{"n"}, Value: -1, Usage: "show the N most recently created containers, in every state"},
			&cli.BoolFlag{Name: "latest", Aliases: []string{"l"}, Usage: "show the most recently created container, in any state"},
			&cli.StringFlag{Name: "sort", Value: "created", Usage: "sort by command, created, id, image, names, runningfor or status"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only ids"},
			&cli.BoolFlag{Name: "no-trunc", Usage: "do not truncate ids and commands"},
			&cli.StringFlag{Name: "format", Usage: "Go template, \"table TEMPLATE\" or \"json\""},
			&cli.BoolFlag{Name: "size", Aliases: []string{"s"}, Usage: "show each container's size: its writable layer, and with its image (virtual)"},
			noHeadingFlag(),
		},
		UseShortOptionHandling: true,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return withCode(125, errors.New("den ps takes no arguments: select containers with --filter"))
			}
			// Sizes are measured inside den's user namespace; plain ps stays out of it.
			if c.Bool("size") {
				return inUserNS(psAction)(c)
			}
			return psAction(c)
		},
	}
}

// psAction lists the containers, as ps says; in den's user namespace with --size.
func psAction(c *cli.Context) error {
	last := c.Int("last")
	if c.Bool("latest") {
		if c.IsSet("last") {
			return withCode(125, errors.New("--last and --latest cannot be used together"))
		}
		last = 1
	}
	filter, err := runtime.ParseContainerFilters(c.StringSlice("filter"))
	if err != nil {
		return withCode(125, err)
	}
	e, err := newEnv(c)
	if err != nil {
		return err
	}
	all := c.Bool("all") || last > 0 || filter.SelectsByStatus()
	sel, err := e.rt.Select(filter, func(ctr *runtime.Container) bool { return all || ctr.State.Status == runtime.StatusRunning })
	if err != nil {
		return withCode(125, err)
	}
	// Select gives the newest first.
	if last > 0 && len(sel) > last {
		sel = sel[:last]
	}
	if err := runtime.SortContainers(sel, c.String("sort")); err != nil {
		return withCode(125, err)
	}
	var sizes map[string]runtime.ContainerSize
	if c.Bool("size") {
		if sizes, err = e.rt.Sizes(sel); err != nil {
			return withCode(125, err)
		}
	}
	format := c.String("format")
	if c.Bool("quiet") {
		format = "{{.ID}}"
	}
	// One shape or the other is printed: only that one is built.
	asJSON := format == "json"
	var rows []psRow
	js := []psJSON{} // printed as [] when empty
	if asJSON {
		js = make([]psJSON, 0, len(sel))
	} else {
		rows = make([]psRow, 0, len(sel))
	}
	for _, ctr := range sel {
		if asJSON {
			js = append(js, psJSON{
				AutoRemove: ctr.Config.Remove, Command: ctr.Config.Args, CreatedAt: humanAgo(ctr.Created),
				Exited: ctr.State.Status == runtime.StatusExited, ExitedAt: unixOrZero(ctr.State.FinishedAt),
				ExitCode: ctr.State.ExitCode, ID: ctr.ID, Image: ctr.ImageName, ImageID: ctr.ImageID,
				Labels: ctr.Labels, Names: []string{ctr.Name}, Pid: ctr.State.Pid,
				StartedAt: unixOrZero(ctr.State.StartedAt), State: ctr.ShownStatus(), Status: statusText(ctr),
				Created: ctr.Created.Unix(),
			})
			if s, ok := sizes[ctr.ID]; ok {
				js[len(js)-1].Size = &psSize{RootFsSize: s.RootFs, RwSize: s.Rw}
			}
			continue
		}
		id := ctr.ShortID()
		cmdline := strings.Join(ctr.Config.Args, " ")
		if c.Bool("no-trunc") {
			id = ctr.ID
		} else if len(cmdline) > 20 {
			cmdline = cmdline[:17] + "..."
		}
		rows = append(rows, psRow{
			ID: id, Image: ctr.ImageName, ImageID: ctr.ImageID, Command: cmdline, Names: ctr.Name,
			Status: statusText(ctr), State: ctr.ShownStatus(), Ports: portsText(ctr),
			CreatedHuman: humanAgo(ctr.Created), RunningFor: humanDuration(time.Since(ctr.Created)),
			CreatedAt: ctr.Created.Format("2006-01-02 15:04:05.999999999 -0700 MST"), Created: ctr.Created.Unix(),
			Pid: ctr.State.Pid, ExitCode: ctr.State.ExitCode, Exited: ctr.State.Status == runtime.StatusExited,
			AutoRemove: ctr.Config.Remove, Labels: ctr.Labels,
			StartedAt: unixOrZero(ctr.State.StartedAt), ExitedAt: unixOrZero(ctr.State.FinishedAt),
		})
		if s, ok := sizes[ctr.ID]; ok {
			rows[len(rows)-1].Size = fmt.Sprintf("%s (virtual %s)", units.HumanSizeWithPrecision(float64(s.Rw), 3), units.HumanSizeWithPrecision(float64(s.RootFs), 3))
		}
	}
	cols := []column{
		{"CONTAINER ID", "ID"}, {"IMAGE", "Image"}, {"COMMAND", "Command"}, {"CREATED", "CreatedHuman"},
		{"STATUS", "Status"}, {"PORTS", "Ports"}, {"NAMES", "Names"},
	}
	if sizes != nil {
		cols = append(cols, column{"SIZE", "Size"})
	}
	return printList(listWriter(c, format), format, cols, rows, js)
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func rmCmd() *cli.Command {
	return &cli.Command{
		Name:      "rm",
		Usage:     "remove containers",
		ArgsUsage: "CONTAINER...",
		Description: `Removes containers and their storage. A running container needs --force, which
stops it as den stop does: the stop signal, then KILL after --time seconds (default: the
container's --stop-timeout, 10). With --force or --ignore, a container that does not exist is
not an error. A container that others are on (--network container:) is not removed unless
they are too: --depend also removes the containers that depend on these, in turn.
Exit codes: 1 when a container does not exist, 2 when one is running, 125 otherwise.

Examples:
   den rm web
   den rm -f -t 0 $(den ps -aq)
   den rm -i maybe-gone
   den rm -f --cidfile web.cid
   den rm --filter status=exited
   den rm -f --depend db`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "stop running containers first"},
			&cli.UintFlag{Name: "time", Aliases: []string{"t"}, Usage: "with --force, seconds to wait for a running container before killing it (default: its --stop-timeout, 10)"},
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "remove all containers"},
			&cli.BoolFlag{Name: "ignore", Aliases: []string{"i"}, Usage: "a container that does not exist, or a --cidfile, is not an error"},
			&cli.BoolFlag{Name: "volumes", Aliases: []string{"v"}, Usage: "remove the container's anonymous volumes too"},
			&cli.BoolFlag{Name: "depend", Usage: "remove the containers that depend on these too: those on their network namespace (--network container:), in turn"},
			latestFlag,
			cidfileFlag,
			// Not -f: that is --force.
			filterFlag(false),
		},
		UseShortOptionHandling: true,
		Action: func(c *cli.Context) error {
			if err := allOrLatest(c); err != nil {
				return err
			}
			if err := cidfileAlone(c); err != nil {
				return err
			}
			if filtered(c) {
				if _, err := parseFilter(c); err != nil {
					return err
				}
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			defer e.close()
			var refs []string
			if filtered(c) {
				refs, err = filteredIDs(c, e.rt, false)
			} else {
				refs, err = containerArgs(c, e)
			}
			if err != nil {
				return err
			}
			if len(refs) == 0 && !c.Bool("all") && len(c.StringSlice("cidfile")) == 0 && !filtered(c) {
				return withCode(125, errors.New("no container given: den rm [-f] CONTAINER... or den rm -a"))
			}
			if c.Bool("depend") {
				deps, err := e.rt.Dependents(refs)
				if err != nil {
					return withCode(125, err)
				}
				refs = append(refs, deps...)
			} else if err := e.rt.CheckNoDependents(refs); err != nil {
				return withCode(125, err)
			}
			stopTimeout := runtime.OwnStopTimeout
			if c.IsSet("time") {
				stopTimeout = time.Duration(c.Uint("time")) * time.Second
			}
			e.answerEarly()
			// With --force, running containers stop at once, not one stop timeout after another
			// (podman's rm stops them in parallel too); the results are told in order.
			errs := inParallel(refs, func(ref string) error {
				_, err := e.rt.RemoveWithVolumes(context.Background(), ref, c.Bool("force"), c.Bool("volumes"), stopTimeout)
				return err
			})
			var firstErr error
			named := c.Args().Len() // the refs after these are those -a listed
			if len(c.StringSlice("cidfile")) > 0 {
				named = len(refs)
			}
			for i, ref := range refs {
				err := errs[i]
				// A listed container gone since (a --rm one its monitor removed, another
				// rm's) is as asked, and so is a named one with --ignore or --force, as in
				// podman.
				if (i >= named || c.Bool("ignore") || c.Bool("force")) && errors.Is(err, runtime.ErrNotFound) {
					continue
				}
				if err != nil {
					code := 125
					switch {
					case errors.Is(err, runtime.ErrNotFound):
						code = 1
					case errors.Is(err, runtime.ErrRunning):
						code = 2
					}
					if firstErr == nil {
						firstErr = withCode(code, err)
					} else {
						fmt.Fprintln(c.App.ErrWriter, "Error:", err)
					}
					continue
				}
				fmt.Fprintln(c.App.Writer, ref)
			}
			return firstErr
		},
	}
}
