package image

import (
	"reflect"
	"testing"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestApplyChange(t *testing.T) {
	cases := []struct {
		change  string
		want    imgspecv1.ImageConfig
		wantErr bool
	}{
		{`CMD ["sh","-c","echo hi"]`, imgspecv1.ImageConfig{Cmd: []string{"sh", "-c", "echo hi"}}, false},
		{`CMD echo hi`, imgspecv1.ImageConfig{Cmd: []string{"/bin/sh", "-c", "echo hi"}}, false},
		{`ENTRYPOINT ["/bin/echo"]`, imgspecv1.ImageConfig{Entrypoint: []string{"/bin/echo"}}, false},
		{`ENV A=b c`, imgspecv1.ImageConfig{Env: []string{"A=b c"}}, false},
		{`ENV A b`, imgspecv1.ImageConfig{Env: []string{"A=b"}}, false},
		{`WORKDIR /srv`, imgspecv1.ImageConfig{WorkingDir: "/srv"}, false},
		{`USER 1000:1000`, imgspecv1.ImageConfig{User: "1000:1000"}, false},
		{`LABEL a="b"`, imgspecv1.ImageConfig{Labels: map[string]string{"a": "b"}}, false},
		{`EXPOSE 80 53/udp`, imgspecv1.ImageConfig{ExposedPorts: map[string]struct{}{"80/tcp": {}, "53/udp": {}}}, false},
		{`CMD=["true"]`, imgspecv1.ImageConfig{Cmd: []string{"true"}}, false},
		{`WORKDIR relative`, imgspecv1.ImageConfig{}, true},
		{`CMD [broken`, imgspecv1.ImageConfig{}, true},
		{`RUN make`, imgspecv1.ImageConfig{}, true},
		{`ENV`, imgspecv1.ImageConfig{}, true},
		{``, imgspecv1.ImageConfig{}, true},
	}
	for _, c := range cases {
		var got imgspecv1.ImageConfig
		err := ApplyChange(&got, c.change)
		if (err != nil) != c.wantErr {
			t.Fatalf("%q: err = %v, wantErr %v", c.change, err, c.wantErr)
		}
		if !c.wantErr && !reflect.DeepEqual(got, c.want) {
			t.Fatalf("%q: got %+v, want %+v", c.change, got, c.want)
		}
	}
}

func FuzzApplyChange(f *testing.F) {
	for _, s := range []string{`CMD ["a"]`, `ENV a=b`, `LABEL x=y`, `EXPOSE 80`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var cfg imgspecv1.ImageConfig
		_ = ApplyChange(&cfg, s) // must not panic
	})
}
