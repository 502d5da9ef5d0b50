package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Set up once by TestMain.
var (
	denBinary string // the den under test, in baseDir/bin
	baseDir   string // holds bin/ and one directory per test, as siblings
	imagesDir string // testdata/images of the repository
	runAs     *testUser
	// skipAll is why no test can run (no subordinate ids for the current user).
	skipAll string
	dirSeq  atomic.Int64
)

// hostPath is the PATH den runs with: a plain system one, so nothing of the developer's
// environment leaks into the tests.
const hostPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// commandTimeout bounds one den invocation, so a hang fails a test instead of the package.
const commandTimeout = 90 * time.Second

// testUser is who runs den in rootless mode.
type testUser struct {
	name, home string
	uid, gid   int
	// switchTo is set when the tests run as root and den must run as this user instead.
	switchTo bool
}

func TestMain(m *testing.M) {
	code, err := setUp(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setUp(m *testing.M) (int, error) {
	root, err := repoRoot()
	if err != nil {
		return 0, err
	}
	imagesDir = filepath.Join(root, "testdata", "images")
	if err := ensureImages(root); err != nil {
		return 0, err
	}
	if runAs, skipAll, err = chooseUser(root); err != nil {
		return 0, err
	}
	baseDir, err = os.MkdirTemp("", "den-e2e-")
	if err != nil {
		return 0, fmt.Errorf("creating the base directory: %w", err)
	}
	// The test user walks through it to reach den and its own directories.
	if err := os.Chmod(baseDir, 0o755); err != nil {
		return 0, err
	}
	if os.Getenv("DEN_E2E_KEEP") == "" {
		defer os.RemoveAll(baseDir)
	}
	if denBinary, err = installBinary(root, filepath.Join(baseDir, "bin")); err != nil {
		return 0, err
	}
	return m.Run(), nil
}

// repoRoot walks up from the package directory to go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory: run the tests from den's repository")
		}
		dir = parent
	}
}

var imageFiles = []string{"busybox-oci.tar", "busybox-docker.tar", "busybox-docker.tar.gz", "tool-oci.tar", "rootfs.tar"}

// ensureImages builds the test archives when one is missing.
func ensureImages(root string) error {
	for _, f := range imageFiles {
		if _, err := os.Stat(filepath.Join(imagesDir, f)); err != nil {
			cmd := exec.Command("bash", filepath.Join(root, "scripts", "build-testdata.sh"))
			cmd.Dir = root
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("building test images with scripts/build-testdata.sh: %w", err)
			}
			return nil
		}
	}
	return nil
}

// chooseUser picks who runs den rootless: as root, the user of scripts/test-user.sh; else the
// current user, which needs a subordinate uid range.
func chooseUser(root string) (*testUser, string, error) {
	if os.Geteuid() == 0 {
		out, err := exec.Command("bash", filepath.Join(root, "scripts", "test-user.sh")).Output()
		if err != nil {
			return nil, "", fmt.Errorf("creating the test user with scripts/test-user.sh: %w", err)
		}
		u, err := lookupUser(strings.TrimSpace(string(out)))
		if err != nil {
			return nil, "", err
		}
		u.switchTo = true
		return u, "", nil
	}
	cur, err := user.Current()
	if err != nil {
		return nil, "", fmt.Errorf("looking up the current user: %w", err)
	}
	u, err := lookupUser(cur.Username)
	if err != nil {
		return nil, "", err
	}
	if _, _, ok := subIDRange("/etc/subuid", u); !ok {
		return u, fmt.Sprintf("user %s has no range in /etc/subuid, which rootless den needs: run `sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s` or run the tests as root", u.name, u.name), nil
	}
	return u, "", nil
}

func lookupUser(name string) (*testUser, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("looking up user %q: %w", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &testUser{name: u.Username, home: u.HomeDir, uid: uid, gid: gid}, nil
}

// subIDRange returns the user's first range in an /etc/subuid-style file.
func subIDRange(file string, u *testUser) (start, count int, ok bool) {
	f, err := os.Open(file)
	if err != nil {
		return 0, 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.Split(strings.TrimSpace(sc.Text()), ":")
		if len(parts) != 3 || (parts[0] != u.name && parts[0] != strconv.Itoa(u.uid)) {
			continue
		}
		s, err1 := strconv.Atoi(parts[1])
		c, err2 := strconv.Atoi(parts[2])
		if err1 == nil && err2 == nil && c > 0 {
			return s, c, true
		}
	}
	return 0, 0, false
}

// installBinary puts den in binDir: a copy of $DEN_BINARY, or a fresh build. binDir must not
// contain den's runtime directories: runc seals its executable by mounting over the binary's
// directory, which fails with ELOOP when the runtime directory sits inside it.
func installBinary(root, binDir string) (string, error) {
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return "", err
	}
	dst := filepath.Join(binDir, "den")
	if src := os.Getenv("DEN_BINARY"); src != "" {
		// A copy, so the test user can execute it wherever it was built.
		b, err := os.ReadFile(src)
		if err != nil {
			return "", fmt.Errorf("reading DEN_BINARY: %w", err)
		}
		return dst, os.WriteFile(dst, b, 0o755)
	}
	// The Makefile's build: one static binary with den-init built in.
	cmd := exec.Command("make", "--no-print-directory", "build")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building den (set DEN_BINARY to test a built one): %w", err)
	}
	b, err := os.ReadFile(filepath.Join(root, "bin", "den"))
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		return "", err
	}
	return dst, os.Chmod(dst, 0o755)
}

// den is one isolated den installation: its own HOME, XDG directories and storage.
type den struct {
	dir                         string
	home, data, runDir, cfgHome string
	// user runs den; nil in root mode, where den runs as root.
	user *testUser
	// global flags put before every command (--root and --runroot in root mode).
	global []string
}

// result is what one den invocation did.
type result struct {
	args           []string
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("den %s: exit %d\n--- stdout:\n%s--- stderr:\n%s", shellQuote(r.args), r.code, r.stdout, r.stderr)
}

func shellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"$\\|&;()<>*?[]{}") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}

// newDen gives the test a rootless den of its own, removed when the test ends.
func newDen(t *testing.T) *den {
	t.Helper()
	if skipAll != "" {
		t.Skip(skipAll)
	}
	d := newTestDir(t, runAs)
	t.Cleanup(func() { d.cleanup(t) })
	return d
}

// newRootDen gives the test den in root mode, with all its state in the test's directory.
func newRootDen(t *testing.T) *den {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("root mode is tested only when the tests run as root")
	}
	d := newTestDir(t, nil)
	d.global = []string{"--root", filepath.Join(d.dir, "root"), "--runroot", filepath.Join(d.dir, "runroot")}
	t.Cleanup(func() { d.cleanup(t) })
	return d
}

func newTestDir(t *testing.T, u *testUser) *den {
	t.Helper()
	dir := filepath.Join(baseDir, fmt.Sprintf("t-%03d", dirSeq.Add(1)))
	d := &den{
		dir: dir, user: u,
		home: filepath.Join(dir, "home"), data: filepath.Join(dir, "data"),
		runDir: filepath.Join(dir, "run"), cfgHome: filepath.Join(dir, "config"),
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{d.home, d.data, d.runDir, d.cfgHome} {
		mode := os.FileMode(0o755)
		if p == d.runDir {
			mode = 0o700 // what logind gives XDG_RUNTIME_DIR
		}
		if err := os.Mkdir(p, mode); err != nil {
			t.Fatal(err)
		}
		d.chown(t, p)
	}
	t.Logf("den state in %s", dir)
	return d
}

// chown gives a path made by the tests to the user den runs as.
func (d *den) chown(t *testing.T, path string) {
	t.Helper()
	if d.user != nil && d.user.switchTo {
		if err := os.Chown(path, d.user.uid, d.user.gid); err != nil {
			t.Fatal(err)
		}
	}
}

// writeFile writes a file in the test's directory that den can read, and returns its path.
func (d *den) writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(d.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for q := p; q != d.dir; q = filepath.Dir(q) {
		d.chown(t, q)
	}
	return p
}

// hostUID is the uid den runs as on the host.
func (d *den) hostUID() int {
	if d.user == nil {
		return 0
	}
	return d.user.uid
}

// dataDir is where den keeps d's persistent state: records and storage.
func (d *den) dataDir() string { return filepath.Dir(d.graphRoot()) }

// removalsSettled waits until no den process of d has a storage deletion pending: rm and run
// --rm answer before their containers' storage is deleted, and hold den's removals lock
// shared until it is (runtime/removals.go).
func (d *den) removalsSettled(t *testing.T) {
	t.Helper()
	d.lockRemovals(t, unix.LOCK_EX)()
}

// lockRemovals takes den's removals lock (unix.LOCK_SH or unix.LOCK_EX) and returns its
// release; nothing when no container was ever removed.
func (d *den) lockRemovals(t *testing.T, how int) (release func()) {
	t.Helper()
	f, err := os.Open(filepath.Join(d.dataDir(), "containers", "removals.lock"))
	if os.IsNotExist(err) {
		return func() {}
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		t.Fatal(err)
	}
	return func() { f.Close() }
}

// graphRoot is where containers/storage keeps images and containers.
func (d *den) graphRoot() string {
	if d.user == nil {
		return filepath.Join(d.dir, "root", "storage")
	}
	return filepath.Join(d.data, "den", "storage")
}

func (d *den) env() []string {
	return []string{
		"HOME=" + d.home,
		"XDG_DATA_HOME=" + d.data,
		"XDG_RUNTIME_DIR=" + d.runDir,
		"XDG_CONFIG_HOME=" + d.cfgHome,
		"PATH=" + hostPath,
	}
}

// command prepares den with the test's environment, as the test's user, in its own process
// group so a timeout kills the containers it started too.
func (d *den) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, denBinary, append(append([]string{}, d.global...), args...)...)
	cmd.Dir = d.dir
	cmd.Env = d.env()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if d.user != nil && d.user.switchTo {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(d.user.uid), Gid: uint32(d.user.gid), Groups: []uint32{}}
	}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// execOpts are the less common knobs of one invocation.
type execOpts struct {
	stdin   io.Reader
	env     []string      // added to the test's environment
	timeout time.Duration // commandTimeout if zero
}

func (d *den) run(t *testing.T, args ...string) result {
	t.Helper()
	return d.runWith(t, execOpts{}, args...)
}

func (d *den) runWith(t *testing.T, o execOpts, args ...string) result {
	t.Helper()
	if o.timeout == 0 {
		o.timeout = commandTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	cmd := d.command(ctx, args...)
	cmd.Env = append(cmd.Env, o.env...)
	cmd.Stdin = o.stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{args: args, stdout: stdout.String(), stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}
	if ctx.Err() != nil {
		t.Fatalf("den %s: timed out after %v\n%s", shellQuote(args), o.timeout, r)
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("den %s: %v", shellQuote(args), err)
	}
	return r
}

// mustRun runs den and fails the test unless it exits 0.
func (d *den) mustRun(t *testing.T, args ...string) result {
	t.Helper()
	r := d.run(t, args...)
	if r.code != 0 {
		t.Fatalf("want exit 0\n%s", r)
	}
	return r
}

// load loads one of testdata/images.
func (d *den) load(t *testing.T, archive string) result {
	t.Helper()
	return d.mustRun(t, "load", "-i", filepath.Join(imagesDir, archive))
}

// cleanup removes the den installation. Storage holds files of subordinate ids that only
// root (or den itself, through rm and rmi) can remove.
func (d *den) cleanup(t *testing.T) {
	if r := d.run(t, "rm", "-af", "-t", "0"); r.code != 0 {
		t.Errorf("cleaning up containers\n%s", r)
	}
	d.removalsSettled(t)
	if os.Geteuid() != 0 {
		d.run(t, "rmi", "-af")
		if err := os.RemoveAll(d.dir); err != nil {
			t.Logf("leaving %s behind: %v", d.dir, err)
		}
		return
	}
	unmountUnder(t, d.dir)
	if err := os.RemoveAll(d.dir); err != nil {
		t.Errorf("removing the test directory: %v", err)
	}
}

// unmountUnder detaches whatever is still mounted in dir, deepest first: an aborted test in
// root mode can leave storage mounted on the host.
func unmountUnder(t *testing.T, dir string) {
	for _, mp := range mountsUnder(t, dir) {
		if err := unix.Unmount(mp, unix.MNT_DETACH); err != nil {
			t.Logf("unmounting %s: %v", mp, err)
		}
	}
}

// mountsUnder lists the host's mount points in or below dir, deepest first.
func mountsUnder(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var mps []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := unescapeMountinfo(f[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			mps = append(mps, mp)
		}
	}
	sort.Slice(mps, func(i, j int) bool { return len(mps[i]) > len(mps[j]) })
	return mps
}

// unescapeMountinfo undoes the kernel's octal escapes (\040 for a space).
func unescapeMountinfo(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// lines splits output into lines without the trailing empty one.
func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// wantStdout fails unless den exited 0 and printed exactly want.
func wantStdout(t *testing.T, r result, want string) {
	t.Helper()
	if r.code != 0 || r.stdout != want {
		t.Errorf("want exit 0 and stdout %q\n%s", want, r)
	}
}

// wantError fails unless den exited with code and said why in exactly one line starting
// with "Error:" that contains every one of mentions.
func wantError(t *testing.T, r result, code int, mentions ...string) {
	t.Helper()
	ls := lines(r.stderr)
	if r.code != code || len(ls) != 1 || !strings.HasPrefix(ls[0], "Error: ") {
		t.Errorf("want exit %d and one line on stderr starting with \"Error: \"\n%s", code, r)
		return
	}
	for _, m := range mentions {
		if !strings.Contains(ls[0], m) {
			t.Errorf("want the error to mention %q\n%s", m, r)
		}
	}
}

// wantNoContainers fails if any container is left.
func (d *den) wantNoContainers(t *testing.T) {
	t.Helper()
	if r := d.mustRun(t, "ps", "-a", "-q"); r.stdout != "" {
		t.Errorf("want no containers left\n%s", r)
	}
}

var hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)
var hex12 = regexp.MustCompile(`^[0-9a-f]{12}$`)
