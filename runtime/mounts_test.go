package runtime

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseVolume(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Mount
		wantErr string
	}{
		{in: "/data", want: Mount{Type: MountVolume, Destination: "/data"}},
		{in: "db:/var/lib/db", want: Mount{Type: MountVolume, Source: "db", Destination: "/var/lib/db"}},
		{in: "db:/var/lib/db/:ro,nocopy", want: Mount{Type: MountVolume, Source: "db", Destination: "/var/lib/db", Options: []string{"ro", "nocopy"}}},
		{in: "/srv/src:/src:U,z", want: Mount{Type: MountBind, Source: "/srv/src", Destination: "/src", Options: []string{"U", "z"}}},
		{in: "/a/../b:/b:rshared", want: Mount{Type: MountBind, Source: "/b", Destination: "/b", Options: []string{"rshared"}}},
		{in: "", wantErr: "absolute path"},
		{in: "rel", wantErr: "absolute path"},
		{in: "db:rel", wantErr: "absolute path"},
		{in: ":/x", wantErr: "empty source"},
		{in: "db:/x:", wantErr: "empty options"},
		{in: "db:/x:bogus", wantErr: `unknown option "bogus"`},
		{in: "db:/x:ro,rw", wantErr: "ro and rw"},
		{in: "/h:/x:nocopy", wantErr: "nocopy applies to volumes"},
		{in: "../x:/x:ro:extra", wantErr: "want SOURCE:DESTINATION"},
		{in: "bad/name:/x", wantErr: "volume name"},
		{in: "-x:/x", wantErr: "volume name"},
		{in: "db:/", wantErr: "over the container's /"},
		{in: "db:/proc", wantErr: "/proc is the container's own"},
		{in: "/h:/sys/kernel", wantErr: "/sys is the container's own"},
		{in: "db:/dev", wantErr: "/dev is the container's own"},
		{in: "/dev/fuse:/dev/fuse", want: Mount{Type: MountBind, Source: "/dev/fuse", Destination: "/dev/fuse"}},
	} {
		got, err := ParseVolume(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseVolume(%q) = %+v, %v; want an error with %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseVolume(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseMountFlag(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Mount
		wantErr string
	}{
		{in: "type=bind,source=/h,target=/c,readonly", want: Mount{Type: MountBind, Source: "/h", Destination: "/c", Options: []string{"ro"}}},
		{in: "type=bind,src=/h,dst=/c,ro=false,bind-propagation=rslave", want: Mount{Type: MountBind, Source: "/h", Destination: "/c", Options: []string{"rslave"}}},
		{in: "type=volume,source=v,destination=/d,volume-nocopy", want: Mount{Type: MountVolume, Source: "v", Destination: "/d", Options: []string{"nocopy"}}},
		{in: "type=volume,target=/anon", want: Mount{Type: MountVolume, Destination: "/anon"}},
		{in: "type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1770", want: Mount{Type: MountTmpfs, Destination: "/t", Options: []string{"size=64m", "mode=1770"}}},
		{in: "target=/x", wantErr: "missing type="},
		{in: "type=nfs,target=/x", wantErr: `type "nfs"`},
		{in: "type=bind,source=rel,target=/x", wantErr: "absolute source"},
		{in: "type=bind,source=/h,target=/x,volume-nocopy", wantErr: "volume-nocopy applies"},
		{in: "type=tmpfs,source=x,target=/t", wantErr: "no source"},
		{in: "type=tmpfs,target=/t,tmpfs-size=huge", wantErr: "size"},
		{in: "type=bind,source=/h,target=/x,readonly=maybe", wantErr: "true or false"},
		{in: "type=bind,source=/h,target=/x,colour=red", wantErr: `unknown key "colour"`},
		{in: "type=bind,source=/h,target=/x,bind-propagation=sideways", wantErr: "bind-propagation"},
		{in: "type=volume,source=../up,target=/x", wantErr: "volume name"},
	} {
		got, err := ParseMountFlag(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseMountFlag(%q) = %+v, %v; want an error with %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseMountFlag(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseTmpfs(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Mount
		wantErr string
	}{
		{in: "/run", want: Mount{Type: MountTmpfs, Destination: "/run"}},
		{in: "/run:size=1g,mode=0700,exec,uid=5", want: Mount{Type: MountTmpfs, Destination: "/run", Options: []string{"size=1g", "mode=0700", "exec", "uid=5"}}},
		{in: "/run:size=0", wantErr: "size"},
		{in: "/run:mode=999", wantErr: "mode"},
		{in: "/run:uid=x", wantErr: "uid"},
		{in: "/run:bogus", wantErr: `unknown option "bogus"`},
		{in: "run", wantErr: "absolute path"},
		{in: "/proc/sys", wantErr: "/proc"},
		{in: "/dev", wantErr: "/dev"},
	} {
		got, err := ParseTmpfs(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseTmpfs(%q) = %+v, %v; want an error with %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseTmpfs(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestMergeMountsLetsTheUserWinAndDropsBadImageVolumes(t *testing.T) {
	own := []Mount{{Type: MountVolume, Source: "db", Destination: "/data"}}
	from := []Mount{{Type: MountBind, Source: "/h", Destination: "/data"}, {Type: MountBind, Source: "/h2", Destination: "/shared"}}
	got, err := mergeMounts(own, from, []string{"/data", "/shared", "", "/proc", "relative", "/cache/"})
	if err != nil {
		t.Fatal(err)
	}
	want := []Mount{own[0], from[1], {Type: MountVolume, Destination: "/cache"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if _, err := mergeMounts([]Mount{own[0], own[0]}, nil, nil); err == nil || !strings.Contains(err.Error(), "two mounts at /data") {
		t.Errorf("duplicate destinations: err = %v", err)
	}
}

// The parsers never panic, and what they accept has an absolute, clean destination that is
// not one of den's own mounts.
func FuzzParseMounts(f *testing.F) {
	for _, s := range []string{"/data", "db:/x:ro", "/h:/c:U,z", "type=bind,source=/h,target=/c", "/run:size=1g", "a:b:c:d", ":", "type=tmpfs,target=/t,tmpfs-mode=777"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, parse := range []func(string) (Mount, error){ParseVolume, ParseMountFlag, ParseTmpfs} {
			m, err := parse(s)
			if err != nil {
				continue
			}
			if !strings.HasPrefix(m.Destination, "/") || m.Destination == "/" || m.Destination != cleanPath(m.Destination) {
				t.Fatalf("%q gave destination %q", s, m.Destination)
			}
			if m.Destination == "/proc" || strings.HasPrefix(m.Destination, "/proc/") || m.Destination == "/sys" || strings.HasPrefix(m.Destination, "/sys/") {
				t.Fatalf("%q mounts over %s", s, m.Destination)
			}
		}
	})
}

func cleanPath(p string) string { return filepath.Clean(p) }
