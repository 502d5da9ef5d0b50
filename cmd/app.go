// Package cmd is den's command line: flags, output formats and exit codes. Each command turns
// its flags into an options struct and makes one call into runtime/, store/ or netstack/.
package cmd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/den-project/den/config"
	"github.com/den-project/den/runtime"
	"github.com/den-project/den/runtime/userns"
	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"
)

// Version is set at build time with -ldflags "-X github.com/den-project/den/cmd.Version=...".
var Version = "0.1.0-dev"

// exitError is an error with podman's exit code attached.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

// exitCode is a silent exit with a code (the container's own).
func exitCode(code int) error {
	if code == 0 {
		return nil
	}
	return &exitError{code: code}
}

// Run runs the CLI and returns the process exit code.
func Run(args []string) int {
	afterAnswer = nil
	early = openEarly(args)
	ahead := early
	// Before the command line is parsed: the record read that most commands begin with
	// then finds its decoder built.
	runtime.WarmRecords()
	code := runApp(args)
	if ahead != nil {
		ahead.DropRecordAhead()
	}
	if len(afterAnswer) > 0 {
		userns.Answer(code)
		// What follows is nobody's wait: it waits for the shell's (measured: run -d -0.8 ms,
		// six A/B runs of 16 rounds, five of them faster).
		userns.AwaitParent(50 * time.Millisecond)
		for _, f := range afterAnswer {
			if err := f(); err != nil {
				// Nobody reads this any more; system check finds what was left.
				logrus.Warnf("after the answer: %v", err)
			}
		}
	}
	return code
}

// afterAnswer is work a command leaves for after its answer (see answerEarly): Run gives
// the exit code to the parent waiting for it first, then does the work.
var afterAnswer []func() error

// answerEarly lets the command answer once the containers it removes are gone from den's
// records, and delete their storage after that (runtime.DeferStorageDeletion): rm and run
// --rm give the shell its prompt some 5 ms sooner. Only where a parent waits for the answer
// (enter.c's fast path); elsewhere the deletions stay where they were. Commands that use it
// close their runtime with env.close.
func (e *env) answerEarly() {
	if !userns.CanAnswer() {
		return
	}
	e.rt.DeferStorageDeletion()
	e.closeLater = true
	afterAnswer = append(afterAnswer, func() error {
		defer e.rt.Close()
		return e.rt.FinishRemovals()
	})
}

func runApp(args []string) int {
	app := newAppWith(os.Stdout, os.Stderr, commandsFor(args))
	err := app.Run(cliArgs(app, args))
	if err == nil {
		return 0
	}
	code := 125
	var ee *exitError
	var re *runtime.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.code
	case errors.As(err, &re):
		code = re.Code
	}
	if msg := err.Error(); msg != "" {
		fmt.Fprintln(os.Stderr, "Error:", oneLine(msg))
	}
	return code
}

func oneLine(s string) string {
	return strings.TrimSpace(strings.ReplaceAll(s, "\n", " "))
}

func newApp(stdout, stderr io.Writer) *cli.App { return newAppWith(stdout, stderr, commands()) }

// newAppWith is den's CLI with commands cs.
func newAppWith(stdout, stderr io.Writer, cs []*cli.Command) *cli.App {
	app := &cli.App{
		Name:                   "den",
		Usage:                  "run containers without a daemon and without root",
		Version:                Version,
		Writer:                 stdout,
		ErrWriter:              stderr,
		EnableBashCompletion:   true,
		UseShortOptionHandling: true,
		// "-e A=1,2" and "--change 'CMD [\"a\",\"b\"]'" are one value each, as in podman.
		DisableSliceFlagSeparator: true,
		ExitErrHandler:            func(*cli.Context, error) {},
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "root", EnvVars: []string{"DEN_ROOT"}, Usage: "keep all persistent state (storage, containers) in this directory"},
			&cli.StringFlag{Name: "runroot", EnvVars: []string{"DEN_RUNROOT"}, Usage: "keep runtime state (locks, mounts) in this directory"},
			&cli.StringFlag{Name: "log-level", Value: "error", EnvVars: []string{"DEN_LOG_LEVEL"}, Usage: "den's own diagnostics: debug, info, warn, error"},
		},
		Before: func(c *cli.Context) error {
			lvl, err := logrus.ParseLevel(c.String("log-level"))
			if err != nil {
				// Name what was given: the flag, or else DEN_LOG_LEVEL.
				what := "DEN_LOG_LEVEL"
				if slices.ContainsFunc(os.Args, func(a string) bool { return a == "--log-level" || strings.HasPrefix(a, "--log-level=") }) {
					what = "--log-level"
				}
				return withCode(125, fmt.Errorf("%s %q: use debug, info, warn or error", what, c.String("log-level")))
			}
			logrus.SetLevel(lvl)
			logrus.SetOutput(stderr)
			logrus.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, TimestampFormat: "15:04:05.000000"})
			return nil
		},
		OnUsageError: usageError,
		Commands:     cs,
	}
	// den --version and -v print one line, as podman's do; `den version` prints the table.
	cli.VersionFlag = withNames(&cli.BoolFlag{Name: "version", Aliases: []string{"v"}, Usage: "print den's version"})
	cli.HelpFlag = withNames(cli.HelpFlag)
	for i, f := range app.Flags {
		app.Flags[i] = withNames(f)
	}
	cli.VersionPrinter = func(c *cli.Context) { fmt.Fprintf(c.App.Writer, "den version %s\n", c.App.Version) }
	return app
}

// hideHelpCommand keeps urfave/cli from reading a first argument "h" or "help" as a help
// topic ("den rm h" removes the container named h); --help still works.
func hideHelpCommand(c *cli.Command) {
	c.HideHelpCommand = true
	for _, s := range c.Subcommands {
		hideHelpCommand(s)
	}
}

// lookupEnv reads den's own environment for "-e NAME".
func lookupEnv(k string) (string, bool) { return os.LookupEnv(k) }

func usageError(c *cli.Context, err error, _ bool) error {
	// The command's whole name ("volume ls"); before a command (den --bogus) there is none.
	var names []string
	for _, l := range c.Lineage() {
		if l.Command != nil && l.Command.Name != "" && l.Command.Name != c.App.Name {
			names = append([]string{l.Command.Name}, names...)
		}
	}
	help := strings.Join(append(append([]string{"den"}, names...), "--help"), " ")
	msg := err.Error()
	// Go's flag package says "flag provided but not defined: -pull"; podman, "unknown flag: --pull".
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		if len(name) > 1 {
			name = "-" + name
		}
		msg = "unknown flag: -" + name
	}
	return withCode(125, fmt.Errorf("%s: see `%s`", msg, help))
}

func commands() []*cli.Command { return prepared(rawCommands()) }

// prepared gives commands what every den command has: podman's usage errors, no help
// command taking a first argument, its flags' names kept, the user namespace where needed.
func prepared(cs []*cli.Command) []*cli.Command {
	for _, c := range cs {
		if c.OnUsageError == nil {
			c.OnUsageError = usageError
		}
		hideHelpCommand(c)
		keepFlagNames(c)
		if namespaceCommands[c.Name] {
			c.Action = inUserNS(c.Action)
		}
	}
	return cs
}

// commandTable is den's top-level commands in the order help lists them: each one's names
// (its name, then its aliases) and its constructor. A test holds the names to what the
// constructors make.
var commandTable = []struct {
	names []string
	make  func() *cli.Command
}{
	{[]string{"run"}, runCmd}, {[]string{"create"}, createCmd}, {[]string{"start"}, startCmd},
	{[]string{"ps", "list", "ls"}, psCmd}, {[]string{"rm"}, rmCmd}, {[]string{"stop"}, stopCmd},
	{[]string{"kill"}, killCmd}, {[]string{"wait"}, waitCmd}, {[]string{"restart"}, restartCmd},
	{[]string{"logs"}, logsCmd}, {[]string{"inspect"}, inspectCmd}, {[]string{"exec"}, execCmd},
	{[]string{"attach"}, attachCmd}, {[]string{"healthcheck"}, healthcheckCmd}, {[]string{"top"}, topCmd},
	{[]string{"container"}, containerCmd}, {[]string{"images"}, imagesCmd}, {[]string{"load"}, loadCmd},
	{[]string{"import"}, importCmd}, {[]string{"rmi"}, rmiCmd}, {[]string{"image"}, imageCmd},
	{[]string{"volume"}, volumeCmd}, {[]string{"network"}, networkCmd}, {[]string{"tag"}, tagCmd},
	{[]string{"untag"}, untagCmd}, {[]string{"save"}, saveCmd}, {[]string{"history"}, historyCmd},
	{[]string{"commit"}, commitCmd}, {[]string{"export"}, exportCmd}, {[]string{"pull"}, pullCmd},
	{[]string{"push"}, pushCmd}, {[]string{"login"}, loginCmd}, {[]string{"logout"}, logoutCmd},
	{[]string{"cp"}, cpCmd}, {[]string{"rename"}, renameCmd}, {[]string{"pause"}, pauseCmd},
	{[]string{"unpause"}, unpauseCmd}, {[]string{"system"}, systemCmd}, {[]string{"port"}, portCmd},
	{[]string{"unshare"}, unshareCmd}, {[]string{"mount"}, mountCmd}, {[]string{"umount", "unmount"}, umountCmd},
	{[]string{"version"}, versionCmd}, {[]string{"info"}, infoCmd}, {[]string{"events"}, eventsCmd},
	{[]string{"completion"}, completionCmd},
}

// rawCommands are den's commands as their constructors make them.
func rawCommands() []*cli.Command {
	cs := make([]*cli.Command, 0, len(commandTable))
	for _, e := range commandTable {
		cs = append(cs, e.make())
	}
	return cs
}

// commandsFor is what runApp's CLI needs for args: the one command they name, when they name
// one, else all. Building all of them (their flags, some hundreds) took a millisecond of every
// den command (uprobes, run -d); a command's help, errors and completion need only its own.
func commandsFor(args []string) []*cli.Command {
	if name := commandName(args); name != "" {
		for _, e := range commandTable {
			if slices.Contains(e.names, name) {
				return prepared([]*cli.Command{e.make()})
			}
		}
	}
	return commands()
}

// commandName is the first argument of args (a whole command line, den first) that den's
// global flags do not take: the command's name, if it has one.
func commandName(args []string) string {
	_, name := scanGlobal(args)
	return name
}

// globalValueFlags are den's global flags that take a value.
var globalValueFlags = []string{"root", "runroot", "log-level"}

// scanGlobal walks args (a whole command line, den first) past den's global flags: the names
// of those it gives (without dashes or value), and the first argument after them, the
// command's name ("" when none).
func scanGlobal(args []string) (flags []string, command string) {
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return flags, ""
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			return flags, a
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		flags = append(flags, name)
		if !hasValue && slices.Contains(globalValueFlags, name) {
			i++ // the flag's value
		}
	}
	return flags, ""
}

// env is what a command works with: paths, config and the runtime.
type env struct {
	rt *runtime.Runtime
	// closeLater is set when the runtime is closed after the answer (answerEarly).
	closeLater bool
}

// close closes the runtime, unless that is left for after the answer.
func (e *env) close() {
	if !e.closeLater {
		e.rt.Close()
	}
}

// newEnv resolves paths and reads den.toml. It enters no namespace and opens no storage.
func newEnv(c *cli.Context) (*env, error) {
	uid, gid := userns.HostIDs()
	p, err := config.ResolvePaths(uid, gid, os.Getenv)
	if err != nil {
		return nil, withCode(125, err)
	}
	if r := c.String("root"); r != "" {
		if !filepath.IsAbs(r) {
			return nil, withCode(125, fmt.Errorf("--root %q must be an absolute path", r))
		}
		p.DataDir = r
	}
	if r := c.String("runroot"); r != "" {
		if !filepath.IsAbs(r) {
			return nil, withCode(125, fmt.Errorf("--runroot %q must be an absolute path", r))
		}
		p.RuntimeDir = r
	}
	if rt := early; rt != nil && samePaths(rt.Paths, p) {
		early = nil
		setConfigLevel(rt.Config)
		return &env{rt: rt}, nil
	}
	cfg, _, err := config.Load(p)
	if err != nil {
		return nil, withCode(125, err)
	}
	setConfigLevel(cfg)
	return &env{rt: runtime.New(p, cfg)}, nil
}

// setConfigLevel takes den.toml's log level, where it names one.
func setConfigLevel(cfg *config.Config) {
	if cfg.Engine.LogLevel != "" {
		if lvl, err := logrus.ParseLevel(cfg.Engine.LogLevel); err == nil {
			logrus.SetLevel(lvl)
		}
	}
}

// samePaths reports whether a and b name the same directories and configuration files.
func samePaths(a, b *config.Paths) bool {
	return a.Rootless == b.Rootless && a.UID == b.UID && a.GID == b.GID && a.DataDir == b.DataDir &&
		a.RuntimeDir == b.RuntimeDir && a.CacheDir == b.CacheDir && slices.Equal(a.ConfigFiles, b.ConfigFiles)
}

// early is the runtime openEarly made, until newEnv takes it.
var early *runtime.Runtime

// openEarly begins opening the store before the command line is parsed, for a detached run
// that starts its container with an init started ahead (userns.HasZygote): the container's
// storage is then the start's longest path, and building the command line takes a
// millisecond. Only with the paths of den's environment: --root and --runroot are the
// command line's to say, and newEnv takes the runtime only where its paths are the same.
func openEarly(args []string) *runtime.Runtime {
	if !userns.HasZygote() || os.Getenv("DEN_ROOT") != "" || os.Getenv("DEN_RUNROOT") != "" {
		return nil
	}
	if flags, _ := scanGlobal(args); slices.Contains(flags, "root") || slices.Contains(flags, "runroot") {
		return nil
	}
	uid, gid := userns.HostIDs()
	p, err := config.ResolvePaths(uid, gid, os.Getenv)
	if err != nil {
		return nil
	}
	cfg, _, err := config.Load(p)
	if err != nil {
		return nil
	}
	// What opening the store logs before the command line sets the level (app.Before) is
	// held to den's default, as it was when the store opened after it.
	logrus.SetLevel(logrus.ErrorLevel)
	rt := runtime.New(p, cfg)
	// The record directory first: the create waits for it, and the goroutines started
	// here run one at a time while the waiting init's start-up has the other CPU.
	rt.MakeRecordAhead()
	rt.OpenStoreAhead()
	if image, remove, ok := userns.HeldImage(); ok {
		rt.CreateStorageAhead(image, remove)
	}
	runtime.WarmCreate()
	return rt
}

// namespaceCommands touch storage and so run inside den's user namespace. enter.c keeps the
// same list for its fast path; a test holds the two together.
var namespaceCommands = map[string]bool{
	"run": true, "create": true, "start": true, "rm": true, "rmi": true, "load": true, "import": true,
	"restart": true,
	"system":  true,
	"tag":     true, "untag": true, "save": true, "commit": true, "export": true,
	"pull": true, "push": true, "cp": true, "unshare": true,
}

// imageNamespaceVerbs are the verbs of "den image" that touch storage; enter.c keeps the same
// list too.
var imageNamespaceVerbs = map[string]bool{
	"rm": true, "load": true, "import": true, "tag": true, "untag": true, "save": true, "prune": true,
	"pull": true, "push": true,
}

// volumeNamespaceVerbs are those of "den volume": they write volumes or read files that
// subordinate ids own.
var volumeNamespaceVerbs = map[string]bool{"create": true, "rm": true, "prune": true, "export": true, "import": true}

// inUserNS wraps a command that touches storage: a normal user's invocation re-executes
// itself inside den's user namespace and exits with the child's status. Config errors are
// reported before, from the host side.
func inUserNS(action cli.ActionFunc) cli.ActionFunc {
	return func(c *cli.Context) error {
		if userns.Needed() {
			if _, err := newEnv(c); err != nil {
				return err
			}
			code, err := userns.Reexec()
			if err != nil {
				return withCode(125, err)
			}
			return exitCode(code)
		}
		return action(c)
	}
}

// nounCmd is a command made of verbs ("den volume ls"): each verb reports usage errors as
// den's other commands do and runs in den's user namespace when nsVerbs names it.
func nounCmd(name, usage string, nsVerbs map[string]bool, subs []*cli.Command) *cli.Command {
	for _, s := range subs {
		s.OnUsageError = usageError
		hideHelpCommand(s)
		if nsVerbs[s.Name] {
			s.Action = inUserNS(s.Action)
		}
	}
	return &cli.Command{Name: name, Usage: usage, Subcommands: subs}
}
